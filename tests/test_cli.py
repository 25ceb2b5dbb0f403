"""The `hmi` command as an operator runs it: real subprocesses, real exit codes and stderr.

`check-config` against good and broken site files, and `tags read` against a Modbus and
an OPC UA simulator served from a background thread on free loopback ports.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from hmi.sim.modbus_server import ModbusPlantServer
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import free_port

CRASH_TEXT = ("Traceback", "Fatal Python error", "deallocating None")


def run_hmi(
    *args: str | Path, cwd: Path, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """Run `python -m hmi ARGS` from ``cwd`` (not the project root: nothing may depend on it)."""
    return subprocess.run(
        [sys.executable, "-m", "hmi", *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def assert_no_crash(result: subprocess.CompletedProcess[str]) -> None:
    for text in CRASH_TEXT:
        assert text not in result.stderr, f"{text!r} in stderr:\n{result.stderr}"


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) >= occurrence, f"{fragment!r} not found {occurrence} times"
    return hits[occurrence - 1]


# -- check-config ------------------------------------------------------------------------

VALID_SITE = """\
[site]
name = "Test line"

[[devices]]
name = "filler"
kind = "modbus_tcp"
host = "127.0.0.1"
port = 15020

[[tags]]
name = "Filler.Speed"
device = "filler"
table = "holding_register"
address = 0
type = "float32"
units = "bpm"

[[tags]]
name = "Filler.State"
device = "filler"
table = "holding_register"
address = 10
type = "uint16"
"""


def test_check_config_accepts_the_shipped_demo_config(tmp_path: Path) -> None:
    demo = resources.files("hmi.resources") / "config/demo.toml"
    with resources.as_file(demo) as path:
        result = run_hmi("check-config", path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    assert "OK" in result.stdout
    assert "9 alarms" in result.stdout  # the demo raises real alarms (issue 10)
    assert result.stderr == ""


def test_check_config_accepts_a_minimal_site(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(VALID_SITE, encoding="utf-8")
    result = run_hmi("check-config", site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 tags" in result.stdout


# case id, (text in VALID_SITE, its replacement), (the offending line's text, which
# occurrence of it), words the one-line message must hold
BAD_CASES = [
    (
        "unknown-device-kind",
        ('kind = "modbus_tcp"', 'kind = "profibus"'),
        ('kind = "profibus"', 1),
        ["profibus", "kind", "modbus_tcp"],
    ),
    (
        "duplicate-tag-name",
        ('name = "Filler.State"', 'name = "Filler.Speed"'),
        ('name = "Filler.Speed"', 2),
        ["duplicate", "Filler.Speed"],
    ),
    (
        "tag-on-unknown-device",
        (
            'device = "filler"\ntable = "holding_register"\naddress = 10',
            'device = "capper"\ntable = "holding_register"\naddress = 10',
        ),
        ('device = "capper"', 1),
        ["capper", "not defined", "filler"],
    ),
    (
        "address-out-of-range",
        ("address = 10", "address = 70000"),
        ("address = 70000", 1),
        ["70000", "out of range"],
    ),
    (
        "float32-past-the-last-register",
        ("address = 0", "address = 65535"),
        ("address = 65535", 1),
        ["65535", "out of range"],
    ),
    (
        "unknown-data-type",
        ('type = "uint16"', 'type = "float128"'),
        ('type = "float128"', 1),
        ["float128", "data type", "uint16"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [pytest.param(edit, where, words, id=case) for case, edit, where, words in BAD_CASES],
)
def test_check_config_reports_one_error_with_file_and_line(
    tmp_path: Path, edit: tuple[str, str], where: tuple[str, int], words: list[str]
) -> None:
    old, new = edit
    assert VALID_SITE.count(old) == 1, f"{old!r} is not once in VALID_SITE"
    text = VALID_SITE.replace(old, new)
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")
    line = line_of(text, *where)

    result = run_hmi("check-config", site, cwd=tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    assert_no_crash(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{site}:{line}: "), (line, result.stderr)
    for word in words:
        assert word in errors[0], f"{word!r} missing from {errors[0]!r}"


def test_check_config_reports_every_error_at_once(tmp_path: Path) -> None:
    text = (
        VALID_SITE.replace('kind = "modbus_tcp"', 'kind = "modbus_tcp"\nport_nr = 1')
        .replace("address = 10", "address = -1")
        .replace('type = "float32"', 'type = "real"')
    )
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")

    result = run_hmi("check-config", site, cwd=tmp_path)

    assert result.returncode == 2
    assert_no_crash(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 3, result.stderr
    expected_lines = {
        line_of(text, "port_nr"),
        line_of(text, "address = -1"),
        line_of(text, '"real"'),
    }
    found_lines = set()
    for error in errors:
        match = re.match(rf"^{re.escape(str(site))}:(\d+): \S", error)
        assert match, f"not file:line: message: {error!r}"
        found_lines.add(int(match.group(1)))
    assert found_lines == expected_lines, result.stderr


def test_check_config_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "site.toml"
    result = run_hmi("check-config", missing, cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert re.match(rf"^{re.escape(str(missing))}: .*not found", errors[0]), errors[0]


def test_check_config_toml_syntax_error(tmp_path: Path) -> None:
    text = VALID_SITE.replace("address = 10", "address = = 10")
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")
    result = run_hmi("check-config", site, cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{site}:{line_of(text, 'address = = 10')}: "), errors[0]
    assert "TOML syntax error" in errors[0]


# -- tags read ---------------------------------------------------------------------------


class PlantInThread:
    """The demo filler (Modbus TCP) and capper (OPC UA) on free ports, served by their own
    asyncio loop in a background thread so the CLI subprocess can talk to them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="plant", daemon=True)
        self.modbus: ModbusPlantServer | None = None
        self.opcua: OpcUaPlantServer | None = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=15)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()

    async def _start(self) -> None:
        plant = FillingLine(seed=7)
        self.modbus = ModbusPlantServer(plant, "127.0.0.1", 0)
        await self.modbus.start()
        self.opcua = OpcUaPlantServer(plant, "127.0.0.1", free_port(), step_plant=False)
        await self.opcua.start()

    async def _stop(self) -> None:
        if self.opcua is not None:
            await self.opcua.stop()
        if self.modbus is not None:
            await self.modbus.stop()


@pytest.fixture(scope="module")
def plant() -> Iterator[PlantInThread]:
    served = PlantInThread()
    served.start()
    try:
        yield served
    finally:
        served.stop()


# tag -> (units, check of the value); the plant is running for the first two minutes.
EXPECTED = {
    "Filler.Speed": ("bpm", lambda v: isinstance(v, float) and 100 < v < 140),
    "Filler.TankLevel": ("%", lambda v: isinstance(v, float) and 0 <= v <= 100),
    "Filler.ProductTemp": ("°C", lambda v: isinstance(v, float) and 2 < v < 6),
    "Filler.GoodCount": ("pcs", lambda v: isinstance(v, int) and v >= 0),
    "Filler.State": ("", lambda v: v == 1),
    "Filler.FillPressure": ("mbar", lambda v: isinstance(v, int) and 1300 < v < 1700),
    "Filler.ValvePosition": ("‰", lambda v: isinstance(v, int) and 0 <= v <= 1000),
    "Filler.Fault": ("", lambda v: v is False),
    "Filler.TankLow": ("", lambda v: v is False),
    "Capper.Torque": ("N·m", lambda v: isinstance(v, float) and 2 < v < 3),
    "Capper.Temperature": ("°C", lambda v: isinstance(v, float) and 40 < v < 50),
    "Capper.CasesPacked": ("cases", lambda v: isinstance(v, int) and v >= 0),
    "Capper.State": ("", lambda v: v == "RUNNING"),
}


def site_toml(modbus_port: int, opcua_endpoint: str, node: dict[str, str]) -> str:
    return f"""\
[site]
name = "CLI test line"

[[devices]]
name = "filler"
kind = "modbus_tcp"
host = "127.0.0.1"
port = {modbus_port}
timeout = 1.0

[[devices]]
name = "capper"
kind = "opcua"
endpoint = "{opcua_endpoint}"
timeout = 1.0

[[tags]]
name = "Filler.Speed"
device = "filler"
table = "holding_register"
address = 0
type = "float32"
units = "bpm"

[[tags]]
name = "Filler.TankLevel"
device = "filler"
table = "holding_register"
address = 2
type = "float32"
units = "%"

[[tags]]
name = "Filler.ProductTemp"
device = "filler"
table = "holding_register"
address = 4
type = "float32"
units = "°C"

[[tags]]
name = "Filler.GoodCount"
device = "filler"
table = "holding_register"
address = 6
type = "uint32"
units = "pcs"

[[tags]]
name = "Filler.State"
device = "filler"
table = "holding_register"
address = 10
type = "uint16"

[[tags]]
name = "Filler.FillPressure"
device = "filler"
table = "holding_register"
address = 11
type = "int16"
units = "mbar"

[[tags]]
name = "Filler.ValvePosition"
device = "filler"
table = "input_register"
address = 0
type = "uint16"
units = "‰"

[[tags]]
name = "Filler.Fault"
device = "filler"
table = "coil"
address = 0
type = "bool"

[[tags]]
name = "Filler.TankLow"
device = "filler"
table = "discrete_input"
address = 0
type = "bool"

[[tags]]
name = "Capper.Torque"
device = "capper"
node_id = "{node["Capper.Torque"]}"
type = "float64"
units = "N·m"

[[tags]]
name = "Capper.Temperature"
device = "capper"
node_id = "{node["Capper.Temperature"]}"
type = "float64"
units = "°C"

[[tags]]
name = "Capper.CasesPacked"
device = "capper"
node_id = "{node["Capper.CasesPacked"]}"
type = "uint32"
units = "cases"

[[tags]]
name = "Capper.State"
device = "capper"
node_id = "{node["Capper.State"]}"
type = "string"
"""


def write_site(tmp_path: Path, plant: PlantInThread, *, dead: str | None = None) -> Path:
    """A site file for the served plant; ``dead`` names a device moved to a silent port."""
    assert plant.modbus is not None
    assert plant.opcua is not None
    modbus_port = free_port() if dead == "filler" else plant.modbus.port
    endpoint = (
        f"opc.tcp://127.0.0.1:{free_port()}/hmi-demo/" if dead == "capper" else plant.opcua.endpoint
    )
    nodes = {name: plant.opcua.node_id(name) for name in EXPECTED if name.startswith("Capper.")}
    site = tmp_path / "site.toml"
    site.write_text(site_toml(modbus_port, endpoint, nodes), encoding="utf-8")
    return site


def read_json_lines(stdout: str) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    by_name = {str(row["name"]): row for row in rows}
    assert len(by_name) == len(rows), f"a tag printed twice:\n{stdout}"
    return by_name


def assert_recent(timestamp: object) -> None:
    assert isinstance(timestamp, str)
    stamp = datetime.fromisoformat(timestamp)
    assert stamp.tzinfo is not None, f"timestamp without a zone: {timestamp}"
    assert abs(stamp.timestamp() - time.time()) < 120, timestamp


def test_tags_read_json_every_tag_good(tmp_path: Path, plant: PlantInThread) -> None:
    site = write_site(tmp_path, plant)

    result = run_hmi("tags", "read", "--config", site, "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    rows = read_json_lines(result.stdout)
    assert list(rows) == list(EXPECTED), "every configured tag, in config order"
    for name, (units, plausible) in EXPECTED.items():
        row = rows[name]
        assert set(row) >= {"name", "value", "units", "quality", "timestamp"}, row
        assert row["quality"] == "GOOD", row
        assert row["units"] == units, row
        assert plausible(row["value"]), row
        assert_recent(row["timestamp"])


def test_tags_read_text_lists_every_tag(tmp_path: Path, plant: PlantInThread) -> None:
    site = write_site(tmp_path, plant)

    result = run_hmi("tags", "read", "--config", site, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [line.split()[0] for line in lines] == list(EXPECTED), result.stdout
    speed = lines[0].split()
    assert speed[2:4] == ["bpm", "GOOD"], lines[0]
    assert 100 < float(speed[1]) < 140
    assert_recent(speed[-1])


@pytest.mark.parametrize("dead", ["capper", "filler"])
def test_tags_read_with_one_device_down(tmp_path: Path, plant: PlantInThread, dead: str) -> None:
    site = write_site(tmp_path, plant, dead=dead)

    started = time.monotonic()
    result = run_hmi("tags", "read", "--config", site, "--json", cwd=tmp_path)
    took = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    rows = read_json_lines(result.stdout)
    assert list(rows) == list(EXPECTED)
    prefix = "Capper." if dead == "capper" else "Filler."
    for name, row in rows.items():
        if name.startswith(prefix):
            assert row["quality"] == "BAD", row
            assert row["value"] is None, row
            assert isinstance(row["detail"], str), row
            assert row["detail"].startswith("comm"), row
            assert_recent(row["timestamp"])
        else:
            assert row["quality"] == "GOOD", row
            assert EXPECTED[name][1](row["value"]), row
    assert took < 15, f"a dead device held `tags read` for {took:.1f} s"


def test_tags_read_config_error_exits_2(tmp_path: Path) -> None:
    text = VALID_SITE.replace('type = "uint16"', 'type = "word"')
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")

    result = run_hmi("tags", "read", "--config", site, "--json", cwd=tmp_path)

    assert result.returncode == 2
    assert_no_crash(result)
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{site}:{line_of(text, 'word')}: "), errors[0]


def test_tags_read_missing_config_exits_2(tmp_path: Path) -> None:
    result = run_hmi("tags", "read", "--config", tmp_path / "absent.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert "absent.toml" in result.stderr
    assert "not found" in result.stderr
