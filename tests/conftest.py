"""Shared fixtures: offscreen Qt, a qasync loop that fails the test on loop errors, and
the demo site moved onto free loopback ports."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the app's log file (hmi.logs): never in the real user folders; `hmi` subprocesses inherit it
os.environ.setdefault("HMI_LOG_DIR", tempfile.mkdtemp(prefix="hmi-test-logs-"))

from hmi.config import parse_site
from hmi.core.bus import TagBus
from hmi.core.samples import Quality
from hmi.core.site import DeviceKind, Site, Tag


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_site(period: float | None = None) -> Site:
    """The shipped demo site, each simulator on a free port; optionally a short period."""
    text = resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")
    site = parse_site(text, "demo.toml")
    devices = []
    for device in site.devices:
        if device.kind is DeviceKind.OPCUA:
            endpoint = f"opc.tcp://127.0.0.1:{free_port()}/hmi-demo/"
            devices.append(dataclasses.replace(device, endpoint=endpoint))
        else:
            devices.append(dataclasses.replace(device, port=free_port()))
    assert site.mes is not None
    mes = dataclasses.replace(site.mes, url=f"http://127.0.0.1:{free_port()}/api/transactions",
                              retry_interval=0.2)
    rules = site.production_rules
    if period is not None:
        rules = tuple(dataclasses.replace(rule, period=period) for rule in rules)
    return dataclasses.replace(site, devices=tuple(devices), mes=mes, production_rules=rules)


@pytest.fixture(scope="session")
def _qasync_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop for the session: a second QEventLoop on the same QApplication
    crashes Qt (segfault in run_forever) once the first has served sockets."""
    import qasync

    qapp.setQuitOnLastWindowClosed(False)  # the test, not a closed window, ends the loop
    loop = qasync.QEventLoop(qapp, already_running=False)
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hmi-test")
    loop.set_default_executor(executor)  # as hmi.app does: plain threads, not QThreads
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)
    executor.shutdown(wait=True)


@pytest.fixture
def qloop(_qasync_loop: asyncio.AbstractEventLoop) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync loop; an unhandled error on it during the test fails the test."""
    loop = _qasync_loop
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.set_exception_handler(None)
    if errors:
        raise AssertionError(f"errors on the event loop: {errors}")


async def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> float:
    """Poll ``predicate()`` on the running loop until it is true; return the seconds it
    took, or fail naming ``what``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return loop.time() - start


def all_quality(bus: TagBus, tags: Iterable[Tag], quality: Quality) -> bool:
    """Every tag's latest sample on the bus has this quality."""
    samples = [bus.latest(t.name) for t in tags]
    return all(s is not None and s.quality is quality for s in samples)


class TappedBus(TagBus):
    """A TagBus that also hands every delivered batch to the test's taps: device tests
    watch what a worker publishes, batch by batch, without a consumer task."""

    def __init__(self, known_tags: Iterable[str] | None = None) -> None:
        super().__init__(known_tags)
        self._taps: list[Any] = []

    def tap(self, callback: Any) -> None:
        self._taps.append(callback)

    def _deliver(self, samples: Any) -> None:
        super()._deliver(samples)
        for callback in self._taps:
            callback(list(samples))
