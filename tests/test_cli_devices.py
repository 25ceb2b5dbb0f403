"""`hmi devices status` and `hmi tags write` as subprocesses against the simulators."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.runtime import DATABASE_FILE
from hmi.sim.modbus_server import COIL_RUN_COMMAND
from tests.cli_security import ENGINEER, ENGINEER_PW, OPERATOR, OPERATOR_PW, build_staffed
from tests.conftest import free_port
from tests.test_cli import PlantInThread, assert_no_crash, run_hmi

JSON_KEYS = {
    "device", "state", "last_error", "requests_per_s", "latency_p50_ms", "latency_p99_ms",
    "reconnects", "errors", "requests", "bytes_sent", "bytes_received",
}


@pytest.fixture(scope="module")
def plant() -> Iterator[PlantInThread]:
    served = PlantInThread()
    served.start()
    try:
        yield served
    finally:
        served.stop()


def run_hmi_input(stdin: str, *args: str | Path, cwd: Path,
                  ) -> subprocess.CompletedProcess[str]:
    """`python -m hmi ARGS` with ``stdin`` (passwords, one per line)."""
    return subprocess.run([sys.executable, "-m", "hmi", *(str(a) for a in args)], cwd=cwd,
                          input=stdin, capture_output=True, text=True, encoding="utf-8",
                          timeout=30, check=False)


def site_file(tmp_path: Path, plant: PlantInThread, *, capper_dead: bool = False) -> Path:
    assert plant.modbus is not None
    assert plant.opcua is not None
    endpoint = (f"opc.tcp://127.0.0.1:{free_port()}/hmi-demo/" if capper_dead
                else plant.opcua.endpoint)
    torque = plant.opcua.node_id("Capper.Torque")
    text = f"""\
[site]
name = "CLI devices"

[[devices]]
name = "filler"
kind = "modbus_tcp"
host = "127.0.0.1"
port = {plant.modbus.port}
poll_interval = 0.2
timeout = 1.0

[[devices]]
name = "capper"
kind = "opcua"
endpoint = "{endpoint}"
poll_interval = 0.2
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
range = [0, 100]
writable = true

[[tags]]
name = "Filler.RunCommand"
device = "filler"
table = "coil"
address = {COIL_RUN_COMMAND}
type = "bool"
writable = true

[[tags]]
name = "Capper.Torque"
device = "capper"
node_id = "{torque}"
type = "float64"
units = "N·m"
"""
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_devices_status_json_one_object_per_device(tmp_path: Path, plant: PlantInThread) -> None:
    site = site_file(tmp_path, plant)
    result = run_hmi("devices", "status", "--config", site, "--json", "--seconds", "1.5",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    rows = {row["device"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"filler", "capper"}
    for row in rows.values():
        assert set(row) == JSON_KEYS
        assert row["state"] == "connected", row
    filler = rows["filler"]
    assert filler["requests"] >= 3
    assert filler["bytes_received"] > 0
    assert 0 < filler["latency_p50_ms"] <= filler["latency_p99_ms"] < 1000


def test_devices_status_text_exits_0_with_a_device_down(tmp_path: Path,
                                                        plant: PlantInThread) -> None:
    site = site_file(tmp_path, plant, capper_dead=True)
    result = run_hmi("devices", "status", "--config", site, "--seconds", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    header, *lines = result.stdout.splitlines()
    for column in ("Device", "State", "Req/s", "p50 ms", "p99 ms", "Reconnects", "Errors",
                   "Sent", "Received", "Last error"):
        assert column in header
    capper = next(line for line in lines if line.startswith("capper"))
    assert "DISCONNECTED" in capper
    assert "connection refused" in capper or "no response" in capper, capper
    assert next(line for line in lines if line.startswith("filler")).split()[1] == "connected"
    assert "not connected: capper" in result.stderr
    assert "WARNING" not in result.stderr  # retries are logged only with -v


def test_devices_status_config_error_exits_2_with_file_and_line(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "x"\n\n[[devices]]\nname = "filler"\nkind = "profibus"\n',
                    encoding="utf-8")
    result = run_hmi("devices", "status", "--config", site, cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert result.stderr.startswith(f"{site}:6: "), result.stderr
    assert result.stdout == ""


def test_tags_write_confirmed_then_refused(tmp_path: Path, plant: PlantInThread) -> None:
    site = site_file(tmp_path, plant)
    assert plant.modbus is not None
    data = tmp_path / "data"
    build_staffed(data)  # an administrator, an operator and an engineer

    def write(tag: str, value: str, who: str = ENGINEER, password: str = ENGINEER_PW,
              ) -> subprocess.CompletedProcess[str]:
        return run_hmi_input(password + "\n", "tags", "write", "--config", site, tag, value,
                             "--data", data, "--as", who, "--password-stdin",
                             "--reason", "line trial", cwd=tmp_path)

    stop = write("Filler.RunCommand", "off")
    assert stop.returncode == 0, stop.stderr
    assert_no_crash(stop)
    assert stop.stdout.startswith("Filler.RunCommand: confirmed")
    assert plant.modbus.plant.run_command is False
    start = write("Filler.RunCommand", "on")
    assert start.returncode == 0, start.stderr
    assert plant.modbus.plant.run_command is True

    cases = [
        (("Filler.TankLevel", "150"), "150 is above the high limit 100 %"),
        (("Filler.Speed", "120"),
         "Filler.Speed is read-only in the site config (writable = false)"),
        (("Filler.TankLevel", "half"), "takes a number (float32)"),
        (("Filler.Nope", "1"), "no tag 'Filler.Nope'"),
    ]
    for (tag, value), words in cases:
        result = write(tag, value)
        assert result.returncode == 1, (tag, result.stdout, result.stderr)
        assert_no_crash(result)
        assert f"{tag}: refused" in result.stderr
        assert words in result.stderr, result.stderr

    # an operator may not write set-points: refused before anything goes on the wire
    refused = write("Filler.RunCommand", "off", OPERATOR, OPERATOR_PW)
    assert refused.returncode == 1
    assert "may not write set-points" in refused.stderr
    assert plant.modbus.plant.run_command is True
    wrong = write("Filler.RunCommand", "off", ENGINEER, "not-the-password-1")
    assert wrong.returncode == 2
    assert "Wrong user name or password" in wrong.stderr
    assert plant.modbus.plant.run_command is True
    # every write, and the refusal, in the audit trail
    with sqlite3.connect(data / DATABASE_FILE) as db:
        rows = db.execute("SELECT user_name, action, object, new_value, reason FROM audit_trail"
                          " WHERE action IN ('write_setpoint', 'permission_denied')"
                          " ORDER BY seq").fetchall()
    assert rows[0] == ("e.ng", "write_setpoint", "Filler.RunCommand", "False",
                       "line trial; confirmed: Filler.RunCommand = False confirmed")
    assert rows[-1][:3] == ("j.smith", "permission_denied", "Filler.RunCommand")
