"""A measurement for a design question, not product code: the GUI process's stall if the
data path (device workers AND historian) ran in a process of its own.

In one Python process the device thread, the historian's writer and the GUI thread share
one interpreter lock (and Qt's painting holds it too), so at plant scale (55,000 tags a
second) the GUI loop waits for it. Here a child process runs the app's own parts on its
own loop, as a station service would: DeviceSupervisor (Modbus, OPC UA, stale, deadband),
a TagBus, the ConsumerRunner and the HistorianService on a SQLite file of its own, plus
an uplink consumer that sends the samples of the tags the GUI process watches (what the
screens show, the production counters) through a pipe. The GUI process keeps its window,
feed and recorder and stores nothing. bench_data_path.py runs it as its last phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
from collections.abc import Collection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hmi.core.bus import OverflowPolicy, SampleQueue, TagBus
from hmi.core.samples import Quality, Sample
from hmi.core.site import Site

QUALITIES = list(Quality)


class _Uplink:
    """Consumer of the child's bus: the watched tags' samples, as tuples, to the pipe."""

    name = "uplink"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def run(self, queue: SampleQueue) -> None:
        index = {quality: k for k, quality in enumerate(QUALITIES)}
        while True:
            batch = await queue.get(0.05)
            if batch:
                self._conn.send([(s.tag, s.value, index[s.quality], s.source_time,
                                  s.receive_time, s.detail) for s in batch])
            elif queue.closed:
                return

    def unfinished(self) -> int:
        return 0


def _child(conn: Connection, site: Site, data_dir: str, watched: list[str],
           niceness: int) -> None:
    import logging
    import os

    if niceness:
        os.nice(niceness)  # the screen first when the cores are all busy

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    asyncio.run(_serve(conn, site, Path(data_dir), watched))


async def _serve(conn: Connection, site: Site, data_dir: Path, watched: list[str]) -> None:
    from hmi.core.consumers import ConsumerRunner
    from hmi.devices.supervisor import DeviceSupervisor
    from hmi.services.historian import HistorianService
    from hmi.store.database import open_database

    bus = TagBus(known_tags=(tag.name for tag in site.tags))
    runner = ConsumerRunner(bus)
    database = open_database(data_dir / "child.db")
    historian = HistorianService(database, site.tags)
    runner.add(historian, overflow=historian.overflow, maxsize=historian.queue_size)
    runner.add(_Uplink(conn), overflow=OverflowPolicy.DROP_OLDEST, maxsize=200_000,
               tags=watched)
    supervisor = DeviceSupervisor(site, bus)
    runner.start()
    await supervisor.start()
    conn.send("started")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    await supervisor.stop()
    bus.flush()
    await runner.stop()
    stored = historian.status().writer.stored
    database.close()
    conn.send(("stopped", stored))


class DataPathProcess:
    """The parent's side: starts the child, puts what it sends on ``bus``."""

    def __init__(self, site: Site, data_dir: Path, watched: Collection[str],
                 bus: TagBus, niceness: int = 0) -> None:
        self._bus = bus
        self._conn, child_conn = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=_child, name="hmi-data-path",
                                       args=(child_conn, site, str(data_dir), list(watched),
                                             niceness))
        self._reader: threading.Thread | None = None
        self.stored = 0
        self.received = 0

    async def start(self) -> None:
        self.process.start()
        message = await asyncio.to_thread(self._conn.recv)
        assert message == "started", message
        self._reader = threading.Thread(target=self._read, name="data-path-reader",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        put = self._bus.put
        while True:
            try:
                message: Any = self._conn.recv()
            except (EOFError, OSError):
                return
            if isinstance(message, tuple) and message and message[0] == "stopped":
                self.stored = message[1]
                return
            self.received += len(message)
            put([Sample(tag, value, QUALITIES[quality], source, received, detail)
                 for tag, value, quality, source, received, detail in message])

    async def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 30)
        await asyncio.to_thread(self.process.join, 30)
        if self.process.is_alive():
            self.process.kill()
