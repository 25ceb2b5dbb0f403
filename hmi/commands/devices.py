"""`hmi devices status`: connect to every device, poll a few seconds, print diagnostics."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from hmi.config import load_site
from hmi.core.bus import TagBus
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.site import Site
from hmi.core.status import ConnectionState
from hmi.devices.supervisor import DeviceSupervisor
from hmi.services.devices import COLUMNS, LAST_ERROR, as_json, cells

EXIT_OK = 0
_DEVICE_LOGGERS = ("hmi.devices", "pymodbus", "asyncua")
_WIDTHS = (16, 13, 0, 7, 8, 8, 10, 7, 10, 10)  # 0: the last error, printed last


def quiet_device_logs(args: argparse.Namespace) -> None:
    """The printed result says why a device is down; per-retry warnings only with -v."""
    if not args.verbose:
        for name in _DEVICE_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)


def cmd_status(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    quiet_device_logs(args)
    diagnostics = asyncio.run(_poll(site, args.seconds))
    if not args.json:
        print(header())
    for d in diagnostics.values():
        print(json.dumps(as_json(d), ensure_ascii=False) if args.json else _line(d))
    if not args.json:
        down = [d.device for d in diagnostics.values() if d.state is not ConnectionState.CONNECTED]
        if down:
            print(f"not connected: {', '.join(down)}", file=sys.stderr)
    return EXIT_OK  # a device being down is the answer, not a failure of the command


async def _poll(site: Site, seconds: float) -> dict[str, DeviceDiagnostics]:
    supervisor = DeviceSupervisor(site, TagBus())
    await supervisor.start()
    try:
        await asyncio.sleep(seconds)
        return supervisor.diagnostics()
    finally:
        await supervisor.stop()


def header() -> str:
    return _format(COLUMNS)


def _line(diagnostics: DeviceDiagnostics) -> str:
    return _format(cells(diagnostics))


def _format(row: tuple[str, ...]) -> str:
    parts: list[str] = []
    for column, (text, width) in enumerate(zip(row, _WIDTHS, strict=True)):
        if column == LAST_ERROR:
            continue
        parts.append(f"{text:<{width}}" if column < LAST_ERROR else f"{text:>{width}}")
    return "  ".join(parts) + (f"  {row[LAST_ERROR]}" if row[LAST_ERROR] else "")
