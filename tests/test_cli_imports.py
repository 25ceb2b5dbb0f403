"""Fast commands: `hmi --help` and `hmi check-config` load none of the heavy libraries
(the network stacks, Qt, SQLAlchemy, numpy, the keyring), and every command the parser
names by module and function really exists."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from hmi.cli import _parser
from hmi.commands.parser import DeferredCommand

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "asyncua", "aiohttp", "pymodbus", "PySide6", "shiboken6", "pyqtgraph", "qasync",
    "sqlalchemy", "alembic", "numpy", "keyring", "cryptography",
    # our own heavy layers: device workers, the database, password hashing at import
    "hmi.devices", "hmi.store", "hmi.security", "hmi.services", "hmi.runtime", "hmi.app",
)
PROBE = """\
import json, sys
from hmi.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[object, set[str]]:
    """Run `hmi ARGS` in a fresh interpreter; its exit code and every module it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True,
        encoding="utf-8", timeout=60, check=False,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_loads_no_heavy_module() -> None:
    code, modules = loaded_by("--help")
    assert code == 0
    assert "hmi.commands.parser" in modules  # the probe saw the whole parser built
    assert heavy_in(modules) == []


def test_check_config_loads_no_heavy_module() -> None:
    demo = resources.files("hmi.resources") / "config/demo.toml"
    with resources.as_file(demo) as path:
        code, modules = loaded_by("check-config", str(path))
    assert code == 0
    assert "hmi.config.loader" in modules  # it really read the file
    assert heavy_in(modules) == []


def test_a_subcommand_help_loads_no_heavy_module() -> None:
    code, modules = loaded_by("tags", "write", "--help")
    assert code == 0
    assert heavy_in(modules) == []


def _commands(parser: argparse.ArgumentParser, path: str = "hmi") -> list[tuple[str, object]]:
    """(command line, its func) for every leaf of the parser."""
    found: list[tuple[str, object]] = []
    func = parser.get_default("func")
    if func is not None:
        found.append((path, func))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_commands(sub, f"{path} {name}"))
    return found


def test_the_parser_has_every_command() -> None:
    names = {path for path, _ in _commands(_parser())}
    assert {"hmi tags read", "hmi tags write", "hmi devices status", "hmi browse",
            "hmi certs trust", "hmi export", "hmi users add", "hmi audit export",
            "hmi secrets set", "hmi check-config", "hmi run"} <= names


@pytest.mark.parametrize(
    ("path", "command"),
    [(p, c) for p, c in _commands(_parser()) if isinstance(c, DeferredCommand)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_deferred_command_resolves_to_a_function(path: str,
                                                       command: DeferredCommand) -> None:
    function = command.resolve()
    assert callable(function), f"{path}: {command.module}.{command.function} is not callable"
