"""`hmi devices status`: connect to every device, poll a few seconds, print diagnostics."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from hmi.config import load_site
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.site import Site
from hmi.core.status import ConnectionState
from hmi.folders import data_dir
from hmi.mes.secrets import SecretError
from hmi.services.devices import COLUMNS, LAST_ERROR, as_json, cells
from hmi.station import StationDevices

Command = Callable[[argparse.Namespace], int]

EXIT_OK, EXIT_FAILURE = 0, 2
_DEVICE_LOGGERS = ("hmi.devices", "pymodbus", "asyncua")
_WIDTHS = (16, 13, 0, 7, 8, 8, 10, 7, 10, 10)  # 0: the last error, printed last


def quiet_device_logs(args: argparse.Namespace) -> None:
    """The printed result says why a device is down; per-retry warnings only with -v."""
    if not args.verbose:
        for name in _DEVICE_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)


def one_line_refusals(title: str) -> Callable[[Command], Command]:
    """A device command whose refusal (a secret it cannot read) becomes one line,
    ``hmi TITLE: reason``, and exit code 2."""

    def guard(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except SecretError as exc:
                print(f"hmi {title}: {exc}", file=sys.stderr)
                return EXIT_FAILURE

        return run

    return guard


@one_line_refusals("devices status")
def cmd_status(args: argparse.Namespace) -> int:
    """Every device started as the app starts it, polled a while, then its diagnostics."""
    site = load_site(args.config)
    quiet_device_logs(args)
    diagnostics = asyncio.run(_poll(site, data_dir(args.data), args.seconds))
    if not args.json:
        print(header())
    for d in diagnostics.values():
        print(json.dumps(as_json(d), ensure_ascii=False) if args.json else _line(d))
    if not args.json:
        down = [d.device for d in diagnostics.values() if d.state is not ConnectionState.CONNECTED]
        if down:
            print(f"not connected: {', '.join(down)}", file=sys.stderr)
    return EXIT_OK  # a device being down is the answer, not a failure of the command


async def _poll(site: Site, data: Path, seconds: float) -> dict[str, DeviceDiagnostics]:
    async with StationDevices(site, data) as devices:
        await asyncio.sleep(seconds)
        return await devices.diagnostics()


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
