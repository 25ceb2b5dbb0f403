"""OPC UA simulator of the demo capper, served by asyncua from the shared plant."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server

from hmi.sim.plant import FillingLine

_log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:hmi:demo"
ENDPOINT_PATH = "/hmi-demo/"

# string node id -> (plant attribute, OPC UA type)
CAPPER_VARIABLES: dict[str, tuple[str, ua.VariantType]] = {
    "Capper.Torque": ("capper_torque", ua.VariantType.Double),
    "Capper.Temperature": ("capper_temp", ua.VariantType.Double),
    "Capper.CasesPacked": ("cases_packed", ua.VariantType.UInt32),
    "Capper.State": ("capper_state", ua.VariantType.String),
}

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


class OpcUaPlantServer:
    """The capper's variables under ns "urn:hmi:demo", updated at ~5 Hz from the plant."""

    def __init__(
        self,
        plant: FillingLine,
        host: str = "127.0.0.1",
        port: int = 0,
        update_interval: float = 0.2,
        step_plant: bool = True,
    ) -> None:
        self.plant = plant
        self._host = host
        self._port = port or free_port(host)
        self._update_interval = update_interval
        self._step_plant = step_plant  # False when another server already steps it
        self._server: Server | None = None
        self._nodes: dict[str, Node] = {}
        self._task: asyncio.Task[None] | None = None
        self.namespace_index = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self._host}:{self._port}{ENDPOINT_PATH}"

    def node_id(self, name: str) -> str:
        """The string form of a capper variable's node id, e.g. "ns=2;s=Capper.Torque"."""
        return f"ns={self.namespace_index};s={name}"

    async def start(self) -> None:
        if self._server is not None:
            return
        quiet_asyncua_server_logs()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("HMI demo capper")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE_URI)
        self.namespace_index = idx
        capper = await server.nodes.objects.add_object(f"ns={idx};s=Capper", "Capper")
        self.plant.step(time.time())
        for name, (attribute, variant) in CAPPER_VARIABLES.items():
            value = ua.Variant(getattr(self.plant, attribute), variant)
            self._nodes[name] = await capper.add_variable(f"ns={idx};s={name}", name, value)
        await server.start()
        self._server = server
        self._task = asyncio.create_task(self._run(), name="opcua-capper")
        _log.debug("OPC UA simulator listening on %s", self.endpoint)

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
