"""`hmi tags read`, `hmi tags write` and `hmi devices status` build devices as the app does:
the data folder's trust store, passwords from the keyring, a started supervisor. Real
subprocesses against the capper simulator requiring Basic256Sha256 SignAndEncrypt and a
user name, a file keyring the processes share (tests/file_keyring.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.devices.opcua_pki import PkiStore
from hmi.folders import PKI_FOLDER
from hmi.mes.secrets import BACKEND_ADVICE, SERVICE
from hmi.sim.opcua_server import OpcUaPlantServer
from tests.cli_security import ENGINEER, ENGINEER_PW, Run, Station, staffed_template
from tests.test_cli_opcua import ServerInThread
from tests.test_cli_secrets import NO_BACKEND

__all__ = ["staffed_template"]  # a fixture, used by name

SECRET_NAME = "opcua-capper"
PASSWORD = "s3cret"
CAPPER_TAGS = ("Capper.Torque", "Capper.State", "Capper.TorqueSetpoint", "Capper.Temperature")


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return Station(tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OpcUaPlantServer]:
    """Only Basic256Sha256/Aes128 channels, and only the user 'operator' may log in."""
    with ServerInThread(pki_dir=tmp_path / "server-pki", allow_none=False,
                        user=("operator", PASSWORD)) as served:
        yield served


def site_file(station: Station, server: OpcUaPlantServer) -> Path:
    node = server.node_id
    text = f"""\
[site]
name = "Secured capper"

[[devices]]
name = "capper"
kind = "opcua"
endpoint = "{server.endpoint}"
poll_interval = 0.2
timeout = 1.0
security_policy = "Basic256Sha256"
security_mode = "SignAndEncrypt"
username = "operator"
password_secret = "{SECRET_NAME}"

[[tags]]
name = "Capper.Torque"
device = "capper"
node_id = "{node("Capper.Torque")}"
type = "float64"
units = "N·m"

[[tags]]
name = "Capper.State"
device = "capper"
node_id = "{node("Capper.State")}"
type = "string"

[[tags]]
name = "Capper.TorqueSetpoint"
device = "capper"
node_id = "{node("Capper.TorqueSetpoint")}"
type = "float64"
units = "N·m"
writable = true

[[tags]]
name = "Capper.Temperature"   # writable here, read-only on the server
device = "capper"
node_id = "{node("Capper.Temperature")}"
type = "float64"
writable = true
"""
    path = station.root / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def store_password(station: Station, password: str) -> None:
    """The keyring entry as `hmi secrets set` leaves it (tests/file_keyring.py's format)."""
    station.keyring_file.write_text(json.dumps({f"{SERVICE}/{SECRET_NAME}": password}),
                                    encoding="utf-8")


def read_tags(station: Station, site: Path) -> dict[str, dict[str, object]]:
    result = station.run("tags", "read", "--config", str(site), "--json")
    assert result.code == 0, result.err
    rows = {str(row["name"]): row for row in map(json.loads, result.out.splitlines())}
    assert list(rows) == list(CAPPER_TAGS), result.out
    return rows


def write_tag(station: Station, site: Path, tag: str, value: str) -> Run:
    return station.run("tags", "write", "--config", str(site), tag, value, "--as", ENGINEER,
                       "--password-stdin", "--reason", "trial", stdin=ENGINEER_PW + "\n")


def test_read_says_to_trust_the_server_then_reads_it(station: Station,
                                                     server: OpcUaPlantServer) -> None:
    site = site_file(station, server)
    store_password(station, PASSWORD)

    rows = read_tags(station, site)
    details = {str(row["detail"]) for row in rows.values()}
    assert len(details) == 1, details  # the one reason, on every tag of the device
    detail = details.pop()
    assert all(row["quality"] == "BAD" for row in rows.values())
    match = re.search(r"run `hmi certs trust ([0-9A-F:]+)`", detail)
    assert match, detail
    assert "needs a certificate folder" not in detail
    thumbprint = match.group(1)
    saved = PkiStore(station.data / PKI_FOLDER).certificates()  # in the data folder's pki/
    assert [i.thumbprint for i in saved if i.store == "rejected"] == [thumbprint]

    trusted = station.run("certs", "trust", thumbprint)  # --data: the same folder's pki/
    assert trusted.code == 0, trusted.err

    rows = read_tags(station, site)
    for row in rows.values():
        assert row["quality"] == "GOOD", row
        assert row["detail"] == "", row
    assert 2 < float(rows["Capper.Torque"]["value"]) < 3  # type: ignore[arg-type]
    assert rows["Capper.State"]["value"] == "RUNNING"
    assert rows["Capper.TorqueSetpoint"]["value"] == 2.5

    text = station.run("tags", "read", "--config", str(site))
    assert text.code == 0, text.err
    torque = text.out.splitlines()[0].split()
    assert (torque[0], *torque[2:4]) == ("Capper.Torque", "N·m", "GOOD"), text.out


def test_a_refused_login_names_the_status_code(station: Station,
                                               server: OpcUaPlantServer) -> None:
    site = site_file(station, server)
    assert server.certificate_path is not None
    PkiStore(station.data / PKI_FOLDER).trust(str(server.certificate_path))
    store_password(station, "not-the-password")

    rows = read_tags(station, site)
    for row in rows.values():
        assert row["quality"] == "BAD", row
        assert "BadUserAccessDenied" in str(row["detail"]), row
        assert "refused user 'operator'" in str(row["detail"]), row

    status = station.run("devices", "status", "--config", str(site), "--seconds", "1")
    assert status.code == 0, status.err
    capper = next(line for line in status.out.splitlines() if line.startswith("capper"))
    assert "BadUserAccessDenied" in capper


def test_write_is_read_back_and_a_refusal_names_the_status_code(
    station: Station, server: OpcUaPlantServer, staffed_template: Path,
) -> None:
    station.copy_from(staffed_template)  # an administrator, an operator and an engineer
    site = site_file(station, server)
    assert server.certificate_path is not None
    PkiStore(station.data / PKI_FOLDER).trust(str(server.certificate_path))
    store_password(station, PASSWORD)

    written = write_tag(station, site, "Capper.TorqueSetpoint", "3.25")
    assert written.code == 0, written.err
    assert written.out.strip() == "Capper.TorqueSetpoint: confirmed (read back 3.25)"
    assert read_tags(station, site)["Capper.TorqueSetpoint"]["value"] == 3.25  # it stayed

    refused = write_tag(station, site, "Capper.Temperature", "45")
    assert refused.code == 1, (refused.out, refused.err)
    assert refused.out == ""
    assert refused.err.startswith("Capper.Temperature: failed: BadNotWritable"), refused.err
    assert refused.err.count("\n") == 1, refused.err

    rows = [row for row in station.audit_rows() if row["action"] == "write_setpoint"]
    assert [(r["object"], r["new_value"]) for r in rows] == [
        ("Capper.TorqueSetpoint", "3.25"), ("Capper.Temperature", "45.0")]
    assert "BadNotWritable" in str(rows[1]["reason"])


@pytest.mark.parametrize(("command", "extra"), [
    (("tags", "read"), ()),
    (("devices", "status"), ()),
    (("tags", "write"), ("Capper.TorqueSetpoint", "3", "--as", ENGINEER, "--password-stdin")),
])
def test_no_keyring_backend_says_how_to_configure_one(
    station: Station, command: tuple[str, str], extra: tuple[str, ...],
) -> None:
    site = station.root / "site.toml"
    site.write_text(f"""\
[site]
name = "Secured capper"

[[devices]]
name = "capper"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"
security_policy = "Basic256Sha256"
username = "operator"
password_secret = "{SECRET_NAME}"

[[tags]]
name = "Capper.TorqueSetpoint"
device = "capper"
node_id = "ns=2;s=Capper.TorqueSetpoint"
type = "float64"
writable = true
""", encoding="utf-8")
    result = station.run(*command, "--config", str(site), *extra, stdin=None,
                         backend=NO_BACKEND)
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"hmi {' '.join(command)}: no usable keyring backend")
    assert "OPC UA password of device 'capper'" in result.err
    assert BACKEND_ADVICE in result.err
    assert not station.data.exists()  # refused before anything was opened or asked
