"""The node-opcua alarm server (alarm_server.js) as a child process, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile

from tests.opcua_alarms.install import SERVER_SCRIPT, node


class AlarmServer:
    """The node-opcua alarm server as a child process; commands answered "ok ..."."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/alarms"
        self._process: subprocess.Popen[str] | None = None
        # the server's stderr, shown on failure; lives as long as this object (stop closes it)
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        # its certificate folder goes under TMPDIR: ours, so a killed server leaves none
        self._tmp = tempfile.mkdtemp(prefix="hmi-alarm-server-")

    def start(self, profile: str = "tank", *initial: str) -> None:
        executable = node()
        assert executable is not None
        process = subprocess.Popen(
            [executable, str(SERVER_SCRIPT), str(self.port), profile, *initial],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            bufsize=1, env={**os.environ, "TMPDIR": self._tmp})
        self._process = process
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("ready"):
                return
        self._log.seek(0)
        raise AssertionError(f"the alarm server did not start: {self._log.read()[-2000:]}")

    def command(self, line: str) -> None:
        """Send one command and wait for its answer (blocking: call via to_thread)."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()
        for answer in process.stdout:
            if answer.startswith("ok"):
                return
            if answer.startswith("error"):
                raise AssertionError(f"{line!r}: {answer.strip()}")
        raise AssertionError(f"the alarm server ended at {line!r}")

    async def set(self, variable: str, value: str) -> None:
        await asyncio.to_thread(self.command, f"set {variable} {value}")

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(Exception):
                self.command("stop")
                process.wait(timeout=10)
        self.kill()

    def close(self) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
