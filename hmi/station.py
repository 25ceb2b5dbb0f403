"""A station's devices, built one way for the app and the command line alike.

``build_devices`` is the one place device workers get what the app gives them: their own
thread and loop (hmi.devices.host), the OPC UA trust store in the data folder's pki/ and
user passwords from the OS keyring. The runtime calls it; `hmi tags read`,
`hmi tags write` and `hmi devices status` go through ``StationDevices``, which calls it
and runs the devices as the app does (started, values on the bus, writes routed through
the device thread), for as long as one command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import keyring

from hmi.core.bus import SampleSink, TagBus
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.samples import Sample, Value
from hmi.core.site import Device, DeviceKind, Site
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.core.writes import WriteResult
from hmi.devices.host import DeviceHost
from hmi.devices.supervisor import WorkerContext
from hmi.folders import PKI_FOLDER
from hmi.mes.secrets import NoKeyringBackendError, has_usable_backend, read_password

_WAIT_STEP = 0.05  # seconds between looks at the bus and the device states


def build_devices(site: Site, sink: SampleSink, data_dir: Path) -> DeviceHost:
    """Every device of ``site`` as the app runs it: on the device thread, handing its
    Samples to ``sink``, with the station's trust store and keyring credentials."""
    context = WorkerContext(pki_dir=data_dir / PKI_FOLDER, password_provider=read_password)
    return DeviceHost(site, sink, context=context)


def keyring_users(site: Site) -> list[Device]:
    """The devices that log in with a password kept in the keyring."""
    return [d for d in site.devices
            if d.kind is DeviceKind.OPCUA and d.security.username and d.security.password_secret]


def require_keyring(site: Site) -> None:
    """Raise NoKeyringBackendError (saying how to get one) when a device needs a password
    from the keyring and this machine has no keyring backend to read it from."""
    users = keyring_users(site)
    if users and not has_usable_backend():
        names = ", ".join(f"'{d.name}'" for d in users)
        what = f"OPC UA password of device {names}"
        raise NoKeyringBackendError(keyring.get_keyring().name, what)


def first_value_limit(site: Site) -> float:
    """How long the slowest device may take to connect (a secure channel: the endpoint
    list, then the session) and deliver its first values, or to fail."""
    return max((d.timeout for d in site.devices), default=1.0) * 5 + 1.0


class StationDevices:
    """The station's devices started for one command: first values, diagnostics, writes.

    Refuses (NoKeyringBackendError) before anything starts when a device's password
    cannot be read for want of a keyring backend.
    """

    def __init__(self, site: Site, data_dir: Path) -> None:
        require_keyring(site)
        self.site = site
        self.bus = TagBus(known_tags=(tag.name for tag in site.tags))
        self.devices = build_devices(site, self.bus, data_dir)
        self._started = False

    async def __aenter__(self) -> StationDevices:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.devices.start()

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.devices.stop()

    async def diagnostics(self) -> dict[str, DeviceDiagnostics]:
        return await self.devices.diagnostics_now()

    async def first_values(self, limit: float | None = None) -> dict[str, Sample]:
        """The latest Sample of every tag, once each has one (a value, or BAD with the
        reason its device failed), or what there is after ``limit`` seconds."""
        await self.start()
        names = [tag.name for tag in self.site.tags]
        await _wait_until(lambda: all(self.bus.latest(name) is not None for name in names),
                          first_value_limit(self.site) if limit is None else limit)
        return {name: s for name in names if (s := self.bus.latest(name)) is not None}

    async def write(self, tag_name: str, value: Value) -> WriteResult:
        """Write through the device thread, as the app does, once the tag's device
        is connected and has delivered the tag (its node resolved, its old value known);
        after a bounded wait the device's own answer says why it is not."""
        await self.start()
        tag = next((t for t in self.site.tags if t.name == tag_name), None)
        if tag is not None:
            await _wait_until(lambda: self._ready(tag.device, tag_name),
                              first_value_limit(self.site))
        return await self.devices.write(tag_name, value)

    def _ready(self, device: str, tag_name: str) -> bool:
        """Connected with the tag delivered, or failed (no use waiting longer)."""
        status: DeviceStatus = self.devices.statuses()[device]
        if status.state is ConnectionState.DISCONNECTED and status.last_error:
            return True
        return status.state is ConnectionState.CONNECTED and self.bus.latest(tag_name) is not None


async def _wait_until(condition: Callable[[], bool], limit: float) -> None:
    """Return once ``condition()`` holds, or after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    # Looks rather than listens: the bus's latest values and the workers' states are all
    # a one-shot command needs, whichever loop or thread the workers publish from.
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 (see above)
        await asyncio.sleep(_WAIT_STEP)
