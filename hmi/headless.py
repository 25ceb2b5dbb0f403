"""A station without a window: devices, historian, production rules, alarms and the MES
sender, the same Runtime the window uses (a gateway PC, a service). No Qt is loaded.

Runs until SIGTERM or SIGINT (a service manager's stop, Ctrl+C), or ``duration``
seconds; then stops as the app does: devices first, the consumers store what they
were handed (the open production periods too), the outbox keeps what is not sent yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from hmi.core.site import Site
from hmi.runtime import Runtime

log = logging.getLogger(__name__)


def run_headless(site: Site, data_dir: Path, duration: float | None = None) -> int:
    """Run the station until told to stop; 0 when it stopped cleanly."""
    return asyncio.run(_serve(site, data_dir, duration))


async def _serve(site: Site, data_dir: Path, duration: float | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if sys.platform == "win32":  # pragma: no cover - no loop signal handlers there
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        else:
            loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(site, data_dir)
    try:
        await runtime.start()
        log.info("station %s running without a window (data in %s)", site.name, data_dir)
        print(f"{site.name}: running without a window; stop with SIGTERM or Ctrl+C",
              flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        log.info("stopping")
    finally:
        await runtime.stop()
    log.info("stopped cleanly")
    print(f"{site.name}: stopped cleanly", flush=True)
    return 0
