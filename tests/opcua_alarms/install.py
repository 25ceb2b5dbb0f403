"""Install the node-opcua alarm server's packages (``npm ci``, from package-lock.json)
when Node.js and npm are here and node_modules is not; .ci/run calls it before pytest,
and the tests call ``ensure_installed`` (which says why not, for their skip reason).

    python tests/opcua_alarms/install.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "alarm_server.js"
NPM_CI_TIMEOUT = 600  # seconds; about 10 s here with a warm registry


def _installed() -> bool:
    return (HERE / "node_modules" / "node-opcua" / "package.json").is_file()


def node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def ensure_installed() -> str:
    """"" when the server can run; else why not, naming what to install."""
    if node() is None:
        return ("Node.js is not installed: install it (Debian: apt-get install nodejs npm) "
                "to run the OPC UA Alarms & Conditions tests against node-opcua")
    if _installed():
        return ""
    npm = shutil.which("npm")
    if npm is None:
        return ("npm is not installed: install it (Debian: apt-get install npm), or run "
                f"`npm ci --prefix {HERE}` elsewhere, for the node-opcua alarm server")
    try:
        subprocess.run([npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                       check=True, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        return f"`npm ci --prefix {HERE}` failed: {exc.stderr.strip()[-500:]}"
    except subprocess.TimeoutExpired:
        return f"`npm ci --prefix {HERE}` took more than {NPM_CI_TIMEOUT} s"
    return "" if _installed() else f"`npm ci --prefix {HERE}` did not install node-opcua"


def main() -> int:
    started = time.monotonic()
    why = ensure_installed()
    if why:
        print(f"node-opcua alarm server not installed: {why}")
        return 0  # the tests skip, saying the same
    print(f"node-opcua alarm server ready in {HERE} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
