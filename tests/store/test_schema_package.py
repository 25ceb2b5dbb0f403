"""hmi.store.schema: each area module imports alone in a fresh interpreter without an
import circle, and whichever module comes first the one MetaData holds every table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "hmi" / "store" / "schema"
AREAS = {
    "hmi.store.schema.alarms": {"alarm_states", "alarm_journal", "alarm_requests"},
    "hmi.store.schema.historian": {"historian_tags", "historian_samples", "historian_minutes"},
    "hmi.store.schema.production": {"production_events", "event_confirmations", "outbox",
                                    "production_open"},
    "hmi.store.schema.security": {"users", "audit_trail", "audit_head"},
}
EVERY_TABLE = set().union(*AREAS.values())

# Run in a fresh interpreter: imports argv[1] and reports every import of a module under
# argv[2] that is still executing (a circle: Python hands back the half-made module, which
# works or fails depending on which module came first), the tables the module itself
# defines, and the tables in the MetaData after the import.
PROBE = """
import builtins, importlib, json, sys

target, watched = sys.argv[1], sys.argv[2]
circles = []
real_import = builtins.__import__


def still_executing(name):
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def watching_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and (name == watched or name.startswith(watched + ".")):
        for wanted in (name, *(name + "." + item for item in fromlist or ())):
            if wanted != importer and still_executing(wanted):
                circles.append(importer + " imports " + wanted + " while it is being imported")
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = watching_import
module = importlib.import_module(target)
report = {"circles": circles}
if watched == "hmi":
    from sqlalchemy import Table

    from hmi.store.schema.metadata import metadata

    report["own"] = sorted(n for n, v in vars(module).items() if isinstance(v, Table))
    report["tables"] = sorted(metadata.tables)
print(json.dumps(report))
"""


def _probe(module: str, watched: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module, watched],
        cwd=path,
        env={**os.environ, "PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"importing {module} alone failed:\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("area", sorted(AREAS))
def test_each_area_imports_alone_without_a_circle_and_sees_every_table(area: str) -> None:
    report = _probe(area, "hmi", ROOT)
    assert report["circles"] == []
    assert set(report["own"]) == AREAS[area]
    assert set(report["tables"]) == EVERY_TABLE


@pytest.mark.parametrize("module", ["hmi.store.schema", "hmi.store.schema.metadata",
                                    "hmi.store.database", "hmi.store.migrations.env"])
def test_the_metadata_is_whole_whichever_module_comes_first(module: str) -> None:
    report = _probe(module, "hmi", ROOT)
    assert report["circles"] == []
    assert set(report["tables"]) == EVERY_TABLE


def test_every_schema_module_is_an_area_listed_here_or_the_metadata() -> None:
    """A new area (the alarms) is added to AREAS with its tables, so it is probed too."""
    modules = {f"hmi.store.schema.{path.stem}" for path in SCHEMA.glob("*.py")}
    expected = {*AREAS, "hmi.store.schema.metadata", "hmi.store.schema.__init__"}
    assert modules == expected


def test_the_probe_sees_the_circle_the_old_schema_modules_had(tmp_path: Path) -> None:
    """The shape of the old store/schema.py and schema_security.py: it imports without
    an error, so only the probe's watch on half-made modules can catch it."""
    package = tmp_path / "oldstore"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "schema.py").write_text(
        "metadata = object()\nfrom oldstore import schema_security  # noqa\n")
    (package / "schema_security.py").write_text("from oldstore.schema import metadata\n")
    for first in ("oldstore.schema", "oldstore.schema_security"):
        report = _probe(first, "oldstore", tmp_path)
        assert len(report["circles"]) == 1, report
