"""Secure channels, server-certificate trust and user logins against the simulator."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from cryptography import x509

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality
from hmi.core.site import (
    Device,
    DeviceKind,
    OpcUaAddress,
    OpcUaSecurity,
    SecurityMode,
    SecurityPolicy,
    Tag,
)
from hmi.devices.opcua import OpcUaWorker
from hmi.devices.opcua_pki import CLIENT_APPLICATION_URI, PkiStore
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import all_quality, wait_for

TAGS = (
    Tag("Torque", "capper", OpcUaAddress("ns=2;s=Capper.Torque"), DataType.FLOAT64),
    Tag("State", "capper", OpcUaAddress("ns=2;s=Capper.State"), DataType.STRING),
)
SECRETS = {"opcua-capper": "s3cret"}


def _device(endpoint: str, security: OpcUaSecurity) -> Device:
    return Device(
        "capper",
        DeviceKind.OPCUA,
        endpoint=endpoint,
        poll_interval=0.25,
        timeout=1.0,
        security=security,
    )


def _bad_detail(bus: TagBus) -> str:
    sample = bus.latest("Torque")
    return sample.detail if sample is not None and sample.quality is Quality.BAD else ""


def test_untrusted_server_certificate_is_rejected_until_trusted(tmp_path: Path) -> None:
    client_pki = tmp_path / "client"
    security = OpcUaSecurity(SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN_AND_ENCRYPT)

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine(), pki_dir=tmp_path / "server", allow_none=False)
        await server.start()
        bus = TagBus()
        worker = OpcUaWorker(_device(server.endpoint, security), TAGS, bus, pki_dir=client_pki)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: "not trusted" in _bad_detail(bus), 5.0, "rejection")
            store = PkiStore(client_pki)
            rejected = [i for i in store.certificates() if i.store == "rejected"]
            assert len(rejected) == 1
            thumbprint = rejected[0].thumbprint
            assert _bad_detail(bus) == (
                f"comm: server certificate of {server.endpoint} (thumbprint {thumbprint}) "
                f"is not trusted: run `hmi certs trust {thumbprint}`"
            )
            assert "not trusted" in worker.status.last_error

            # our own certificate was made on first use, with the application URI
            cert_path = client_pki / "own" / "hmi-client.der"
            key_path = client_pki / "own" / "hmi-client.key.pem"
            cert = x509.load_der_x509_certificate(cert_path.read_bytes())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            assert CLIENT_APPLICATION_URI in san.value.get_values_for_type(
                x509.UniformResourceIdentifier
            )
            assert stat.S_IMODE(key_path.stat().st_mode) == 0o600

            store.trust(thumbprint[:11])  # a prefix is enough
            await wait_for(lambda: all_quality(bus, TAGS, Quality.GOOD), 8.0, "trusted")
            assert not [i for i in store.certificates() if i.store == "rejected"]
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("policy", "mode"),
    [
        (SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN),
        (SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN_AND_ENCRYPT),
        (SecurityPolicy.AES128_SHA256_RSAOAEP, SecurityMode.SIGN),
        (SecurityPolicy.AES128_SHA256_RSAOAEP, SecurityMode.SIGN_AND_ENCRYPT),
    ],
)
def test_secure_policies_connect_with_a_trusted_server(
    tmp_path: Path, policy: SecurityPolicy, mode: SecurityMode
) -> None:
    client_pki = tmp_path / "client"
    security = OpcUaSecurity(policy, mode, "operator", "opcua-capper")

    async def scenario() -> None:
        server = OpcUaPlantServer(
            FillingLine(),
            pki_dir=tmp_path / "server",
            allow_none=False,
            user=("operator", "s3cret"),
        )
        await server.start()
        assert server.certificate_path is not None
        PkiStore(client_pki).trust(str(server.certificate_path))  # trust by file
        bus = TagBus()
        worker = OpcUaWorker(
            _device(server.endpoint, security),
            TAGS,
            bus,
            pki_dir=client_pki,
            password_provider=SECRETS.__getitem__,
        )
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, TAGS, Quality.GOOD), 8.0, "secure values")
            assert not worker.polling
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("s3cret", None),
        (
            "wrong",
            "comm: OPC UA server refused user 'operator': BadUserAccessDenied — check the "
            "username and the keyring entry 'opcua-capper'",
        ),
    ],
    ids=["right", "wrong"],
)
def test_username_and_password_from_the_provider(password: str, expected: str | None) -> None:
    security = OpcUaSecurity(username="operator", password_secret="opcua-capper")
    asked: list[str] = []

    def provider(name: str) -> str:
        asked.append(name)
        return password

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine(), user=("operator", "s3cret"))
        await server.start()
        bus = TagBus()
        worker = OpcUaWorker(
            _device(server.endpoint, security), TAGS, bus, password_provider=provider
        )
        task = asyncio.create_task(worker.run())
        try:
            if expected is None:
                await wait_for(lambda: all_quality(bus, TAGS, Quality.GOOD), 5.0, "login")
            else:
                await wait_for(lambda: _bad_detail(bus) == expected, 5.0, "refusal")
                assert worker.status.last_error == expected.removeprefix("comm: ")
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())
    assert asked[0] == "opcua-capper"


def test_security_mistakes_are_named(tmp_path: Path) -> None:
    """No PKI folder, a policy the server lacks, no password provider: each says so."""
    cases = [
        (
            OpcUaSecurity(SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN),
            None,
            "needs a certificate folder (pki_dir)",
        ),
        (
            OpcUaSecurity(SecurityPolicy.AES128_SHA256_RSAOAEP, SecurityMode.SIGN_AND_ENCRYPT),
            tmp_path,
            "does not offer security Aes128_Sha256_RsaOaep SignAndEncrypt; it offers None/None",
        ),
        (
            OpcUaSecurity(username="operator", password_secret="opcua-capper"),
            None,
            "needs a password provider for the keyring entry 'opcua-capper'",
        ),
    ]

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())  # security None only
        await server.start()
        try:
            for security, pki, expected in cases:
                bus = TagBus()
                worker = OpcUaWorker(_device(server.endpoint, security), TAGS, bus, pki_dir=pki)
                task = asyncio.create_task(worker.run())
                try:
                    await wait_for(lambda bus=bus, e=expected: e in _bad_detail(bus), 5.0, expected)
                finally:
                    await worker.stop()
                assert task.done()
        finally:
            await server.stop()

    asyncio.run(scenario())
