"""OPC UA simulator of the demo capper, served by asyncua from the shared plant.

Besides the plant's read-only values it holds setpoints a client may write (the
torque setpoint is clamped to 0..5 Nm as a PLC would), and for tests it can offer
secure endpoints (Basic256Sha256 and Aes128_Sha256_RsaOaep, Sign and SignAndEncrypt)
with its own generated certificate, require one username/password, or refuse
subscriptions so clients must poll. It trusts any client certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import socket
import time
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.node import Node
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import NodeData
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from cryptography.x509.oid import ExtendedKeyUsageOID

from hmi.sim.plant import FillingLine

_log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:hmi:demo"
ENDPOINT_PATH = "/hmi-demo/"
SERVER_APPLICATION_URI = "urn:hmi:demo:capper"
SECURE_POLICIES = (
    ua.SecurityPolicyType.Basic256Sha256_Sign,
    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
    ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
)

# string node id -> (plant attribute, OPC UA type)
CAPPER_VARIABLES: dict[str, tuple[str, ua.VariantType]] = {
    "Capper.Torque": ("capper_torque", ua.VariantType.Double),
    "Capper.Temperature": ("capper_temp", ua.VariantType.Double),
    "Capper.CasesPacked": ("cases_packed", ua.VariantType.UInt32),
    "Capper.State": ("capper_state", ua.VariantType.String),
}

# string node id -> (initial value, OPC UA type): held by the server, writable by clients
CAPPER_SETPOINTS: dict[str, tuple[Any, ua.VariantType]] = {
    "Capper.TorqueSetpoint": (2.5, ua.VariantType.Double),
    "Capper.TargetCases": (100, ua.VariantType.UInt16),
    "Capper.Enabled": (True, ua.VariantType.Boolean),
}
TORQUE_SETPOINT_RANGE = (0.0, 5.0)  # Nm: the "PLC" clamps writes outside it
_ADMIN = User(role=UserRole.Admin)  # asyncua's default writer: the server itself

# asyncua logs every session, subscription and certificate-less endpoint at INFO or
# WARNING; in a demo that restarts servers in tests this drowns real messages.
_NOISY_LOGGERS = (
    "asyncua.server",
    "asyncua.server.server",
    "asyncua.server.binary_server_asyncio",
    "asyncua.server.uaprocessor",
    "asyncua.server.internal_server",
    "asyncua.server.internal_session",
    "asyncua.server.subscription_service",
    "asyncua.server.address_space",
    "asyncua.common.subscription",
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (asyncua needs a concrete one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def quiet_asyncua_server_logs(level: int = logging.ERROR) -> None:
    """Raise asyncua's server-side loggers to ``level``; called when a simulator starts."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(level)


class _OneUser(UserManager):
    """Accepts exactly one username/password; everyone else is refused (BadUserAccessDenied)."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username == self._username and password == self._password:
            return User(role=UserRole.User, name=username)
        return None


class OpcUaPlantServer:
    """The capper's variables under ns "urn:hmi:demo", updated at ~5 Hz from the plant.

    ``pki_dir``: offer the secure policies too, with a certificate generated there.
    ``user``: (username, password) required to open a session; anonymous is refused.
    ``subscriptions``: False makes CreateSubscription fail (BadTooManySubscriptions).
    ``allow_none``: False drops the unsecured endpoint (needs ``pki_dir``).
    """

    def __init__(
        self,
        plant: FillingLine,
        host: str = "127.0.0.1",
        port: int = 0,
        update_interval: float = 0.2,
        step_plant: bool = True,
        *,
        pki_dir: Path | None = None,
        user: tuple[str, str] | None = None,
        subscriptions: bool = True,
        allow_none: bool = True,
    ) -> None:
        self.plant = plant
        self._pki_dir = pki_dir
        self._user = user
        self._subscriptions = subscriptions
        self._allow_none = allow_none
        self.certificate_path: Path | None = None
        self._host = host
        self._port = port or free_port(host)
        self._update_interval = update_interval
        self._step_plant = step_plant  # False when another server already steps it
        self._server: Server | None = None
        self._nodes: dict[str, Node] = {}
        self._setpoints: dict[str, Node] = {}
        self._task: asyncio.Task[None] | None = None
        self.namespace_index = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self._host}:{self._port}{ENDPOINT_PATH}"

    @property
    def subscription_count(self) -> int:
        """Subscriptions the server holds now (for tests of the polling fallback)."""
        if self._server is None:
            return 0
        return len(self._server.iserver.subscription_service.subscriptions)

    def node_id(self, name: str) -> str:
        """The string form of a capper variable's node id, e.g. "ns=2;s=Capper.Torque"."""
        return f"ns={self.namespace_index};s={name}"

    async def start(self) -> None:
        if self._server is not None:
            return
        quiet_asyncua_server_logs()
        server = Server(user_manager=_OneUser(*self._user) if self._user else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("HMI demo capper")
        await server.set_application_uri(SERVER_APPLICATION_URI)
        policies = [ua.SecurityPolicyType.NoSecurity] if self._allow_none else []
        if self._pki_dir is not None:
            await self._load_certificate(server, self._pki_dir)
            policies.extend(SECURE_POLICIES)
        server.set_security_policy(policies)
        if self._user:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        if not self._subscriptions:
            server.iserver.max_subscriptions = 0  # CreateSubscription -> BadTooManySubscriptions
        idx = await server.register_namespace(NAMESPACE_URI)
        self.namespace_index = idx
        capper = await server.nodes.objects.add_object(f"ns={idx};s=Capper", "Capper")
        self.plant.step(time.time())
        for name, (attribute, variant) in CAPPER_VARIABLES.items():
            value = ua.Variant(getattr(self.plant, attribute), variant)
            self._nodes[name] = await capper.add_variable(f"ns={idx};s={name}", name, value)
        for name, (initial, variant) in CAPPER_SETPOINTS.items():
            held = ua.Variant(initial, variant)
            node = await capper.add_variable(f"ns={idx};s={name}", name, held)
            await node.set_writable()
            self._setpoints[name] = node
        torque = self._setpoints["Capper.TorqueSetpoint"].nodeid
        server.set_attribute_value_setter(torque, _clamp_torque_setpoint)
        _report_not_writable(server)
        await server.start()
        self._server = server
        self._task = asyncio.create_task(self._run(), name="opcua-capper")
        _log.debug("OPC UA simulator listening on %s", self.endpoint)

    async def _load_certificate(self, server: Server, folder: Path) -> None:
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        key, cert = folder / "server_key.pem", folder / "server_cert.der"
        await setup_self_signed_certificate(
            key,
            cert,
            SERVER_APPLICATION_URI,
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            {"organizationName": "HMI demo"},
        )
        await server.load_certificate(cert)
        await server.load_private_key(key)
        self.certificate_path = cert

    async def set_value(self, name: str, value: Any, status: ua.StatusCode | None = None) -> None:
        """Set a setpoint variable from the "PLC" side, optionally with a status code."""
        server, node = self._server, self._setpoints[name]
        assert server is not None
        variant_type = CAPPER_SETPOINTS[name][1]
        data = ua.DataValue(
            ua.Variant(value, variant_type),
            StatusCode=status or ua.StatusCode(),
            SourceTimestamp=ua.DateTime.now(dt.UTC),
        )
        await server.write_attribute_value(node.nodeid, data)

    async def stop(self) -> None:
        """Stop serving; sessions are dropped and the port released."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        self._nodes.clear()
        self._setpoints.clear()

    async def _run(self) -> None:
        while True:
            try:
                if self._step_plant:
                    self.plant.step(time.time())
                await self.update_values()
            except Exception:
                _log.exception("capper update failed")
            await asyncio.sleep(self._update_interval)

    async def update_values(self) -> None:
        """Write the plant's capper values into the address space."""
        for name, (attribute, variant) in CAPPER_VARIABLES.items():
            node = self._nodes.get(name)
            if node is not None:
                await node.write_value(ua.Variant(getattr(self.plant, attribute), variant))


def _clamp_torque_setpoint(node: NodeData, attr: AttributeIds, value: ua.DataValue) -> None:
    """What the PLC does with a torque setpoint outside its range: clamp it."""
    raw = value.Value.Value if value.Value is not None else None
    if isinstance(raw, float) and math.isfinite(raw):
        low, high = TORQUE_SETPOINT_RANGE
        value = ua.DataValue(
            ua.Variant(min(high, max(low, raw)), ua.VariantType.Double),
            StatusCode=value.StatusCode,
            SourceTimestamp=value.SourceTimestamp,
            ServerTimestamp=value.ServerTimestamp,
        )
    node.attributes[attr].value = value


def _report_not_writable(server: Server) -> None:
    """Answer writes to read-only variables with BadNotWritable, as OPC UA Part 4 says.

    asyncua answers BadUserAccessDenied whether the variable or the user lacks write
    access; a real PLC tells them apart, and so does our twin of one.
    """
    service = server.iserver.attribute_service
    aspace = server.iserver.aspace
    write = service.write

    async def write_with_spec_codes(
        params: ua.WriteParameters, user: User = _ADMIN
    ) -> list[ua.StatusCode]:
        results = await write(params, user=user)
        for index, item in enumerate(params.NodesToWrite):
            denied = results[index].value == StatusCodes.BadUserAccessDenied
            if not denied or item.AttributeId != AttributeIds.Value:
                continue
            level = aspace.read_attribute_value(item.NodeId, AttributeIds.AccessLevel)
            bits = level.Value.Value if level.Value is not None else None
            if isinstance(bits, int) and not bits & (1 << ua.AccessLevel.CurrentWrite):
                results[index] = ua.StatusCode(ua.UInt32(StatusCodes.BadNotWritable))
        return results

    service.write = write_with_spec_codes  # type: ignore[method-assign]
