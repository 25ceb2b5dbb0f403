"""The whole demo plant: the filler (Modbus TCP), the capper (OPC UA) and the MES,
started on the loopback ports the demo site names."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

from hmi.core.site import DeviceKind, Site
from hmi.sim.mes import MesSimulator
from hmi.sim.modbus_server import ModbusPlantServer
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine

log = logging.getLogger(__name__)

DEMO_API_KEY = "demo-api-key-not-secret"


class PortInUseError(OSError):
    """A port the demo needs is taken; the message names it and what to do."""


def _check_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} on {host} for the {what} is in use by another program "
                "(another `hmi demo`?): stop it, or start the demo with --port-offset N"
            ) from None


class DemoPlant:
    """Starts the simulators behind every device of the demo site, and its MES."""

    def __init__(self, site: Site, seed: int = 1) -> None:
        self.site = site
        self.plant = FillingLine(seed)
        self.servers: list[ModbusPlantServer | OpcUaPlantServer] = []
        self.mes: MesSimulator | None = None

    async def start(self) -> None:
        planned: list[tuple[str, int, str]] = []
        for device in self.site.devices:
            if device.kind is DeviceKind.MODBUS_TCP:
                planned.append((device.host, device.port, f"Modbus simulator '{device.name}'"))
            else:
                url = urlsplit(device.endpoint)
                planned.append(
                    (
                        url.hostname or "127.0.0.1",
                        url.port or 4840,
                        f"OPC UA simulator '{device.name}'",
                    )
                )
        if self.site.mes is not None:
            url = urlsplit(self.site.mes.url)
            planned.append((url.hostname or "127.0.0.1", url.port or 80, "MES simulator"))
        for host, port, what in planned:
            _check_free(host, port, what)
        try:
            await self._start_servers()
        except BaseException:
            await self.stop()
            raise

    async def _start_servers(self) -> None:
        for device in self.site.devices:
            server: ModbusPlantServer | OpcUaPlantServer
            if device.kind is DeviceKind.MODBUS_TCP:
                server = ModbusPlantServer(self.plant, device.host, device.port, device.unit_id)
            else:
                url = urlsplit(device.endpoint)
                server = OpcUaPlantServer(
                    self.plant, url.hostname or "127.0.0.1", url.port or 4840, step_plant=False
                )
            await server.start()
            self.servers.append(server)
        if self.site.mes is not None:
            url = urlsplit(self.site.mes.url)
            self.mes = MesSimulator(url.hostname or "127.0.0.1", url.port or 80, DEMO_API_KEY)
            await self.mes.start()

    async def stop(self) -> None:
        if self.mes is not None:
            await self.mes.stop()
            self.mes = None
        for server in reversed(self.servers):
            try:
                await server.stop()
            except Exception:  # stopping must reach every server
                log.exception("stopping %s failed", server)
        self.servers.clear()
