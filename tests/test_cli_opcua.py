"""`hmi browse` and `hmi certs` against the capper simulator in a background loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from hmi.cli import main
from hmi.mes.secrets import install_memory_keyring
from hmi.sim.opcua_server import OpcUaPlantServer, free_port
from hmi.sim.plant import FillingLine


class ServerInThread:
    """An OpcUaPlantServer on its own loop, so the CLI's asyncio.run can reach it."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = OpcUaPlantServer(FillingLine(seed=3), **options)

    def __enter__(self) -> OpcUaPlantServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()


@pytest.fixture
def memory_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    install_memory_keyring({"opcua-capper": "s3cret"})
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_browse_prints_a_tree_with_node_ids_to_paste(capsys: pytest.CaptureFixture[str]) -> None:
    with ServerInThread() as server:
        assert main(["browse", server.endpoint]) == 0
        tree = capsys.readouterr().out.splitlines()
        capper = next(line for line in tree if line.startswith("Capper "))
        assert "ns=2;s=Capper" in capper
        assert "Object" in capper
        setpoint = next(line for line in tree if "ns=2;s=Capper.TorqueSetpoint" in line)
        assert setpoint.startswith("  Capper.TorqueSetpoint ")  # indented under Capper
        assert "Variable" in setpoint
        assert "Double" in setpoint
        assert setpoint.endswith("= 2.5")
        state = next(line for line in tree if "ns=2;s=Capper.State" in line)
        assert "String" in state
        assert not any(line.startswith("Server ") for line in tree)  # namespace 0 left out

        assert main(["browse", server.endpoint, "--depth", "1", "--json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [row["node_id"] for row in rows] == ["ns=2;s=Capper"]

        assert main(["browse", server.endpoint, "--json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        by_id = {row["node_id"]: row for row in rows}
        target = by_id["ns=2;s=Capper.TargetCases"]
        assert (target["data_type"], target["value"], target["depth"]) == ("UInt16", 100, 2)
        assert target["path"] == "Capper/Capper.TargetCases"


def test_browse_an_unreachable_server_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"opc.tcp://127.0.0.1:{free_port()}/"
    assert main(["browse", url, "--timeout", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"cannot connect to {url}: ")
    assert "refused" in lines[0]


def test_certs_trust_flow_with_a_secure_browse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memory_keyring: None
) -> None:
    pki = str(tmp_path / "pki")
    secure = [
        "--policy", "Basic256Sha256", "--mode", "SignAndEncrypt", "--pki", pki,
        "--username", "operator", "--password-secret", "opcua-capper",
    ]  # fmt: skip
    assert main(["certs", "list", "--pki", pki]) == 0
    assert "no certificates" in capsys.readouterr().out

    with ServerInThread(pki_dir=tmp_path / "server", user=("operator", "s3cret")) as server:
        assert main(["browse", server.endpoint, *secure]) == 2
        error = capsys.readouterr().err.strip()
        assert "is not trusted: run `hmi certs trust " in error
        thumbprint = error.split("hmi certs trust ")[1].rstrip("`")

        assert main(["certs", "list", "--pki", pki]) == 0
        listing = capsys.readouterr().out
        assert "own" in listing
        assert "CN=HMI client" in listing
        assert f"rejected  {thumbprint}" in listing

        assert main(["certs", "trust", thumbprint, "--pki", pki]) == 0
        assert "trusted" in capsys.readouterr().out
        assert main(["browse", server.endpoint, "--depth", "1", *secure]) == 0
        assert "ns=2;s=Capper" in capsys.readouterr().out

        wrong = [*secure[:-1], "missing-secret"]
        assert main(["browse", server.endpoint, *wrong]) == 2
        assert "no OPC UA password is stored in the keyring" in capsys.readouterr().err

    assert main(["certs", "remove", thumbprint, "--pki", pki]) == 0
    assert "removed trusted certificate" in capsys.readouterr().out
    assert main(["certs", "list", "--pki", pki]) == 0
    assert thumbprint not in capsys.readouterr().out


def test_certs_commands_name_their_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = str(tmp_path / "pki")
    assert main(["certs", "trust", "XYZ", "--pki", pki]) == 2
    assert "neither a certificate file nor a thumbprint" in capsys.readouterr().err
    assert main(["certs", "remove", "ABCDEF0123", "--pki", pki]) == 2
    assert "no certificate with thumbprint ABCDEF0123" in capsys.readouterr().err
    assert main(["browse", "http://example.invalid/"]) == 2
    assert "not an opc.tcp:// URL" in capsys.readouterr().err
