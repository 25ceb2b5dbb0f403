"""`hmi` subcommands: devices (`devices status`) and writing a tag (`tags write`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from hmi.commands.login import (
    CommandError,
    Passwords,
    Station,
    add_login_arguments,
    add_station_arguments,
    guarded,
)
from hmi.config import load_site
from hmi.core.bus import TagBus
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.security import Action, Actor, Signature
from hmi.core.site import Site
from hmi.core.status import ConnectionState
from hmi.core.writes import WriteResult
from hmi.devices.supervisor import DeviceSupervisor
from hmi.security.session import Session
from hmi.services.devices import COLUMNS, LAST_ERROR, as_json, cells
from hmi.services.writes import WriteService, parse_value

EXIT_OK, EXIT_NOT_WRITTEN = 0, 1
DEFAULT_SECONDS = 3.0
_DEVICE_LOGGERS = ("hmi.devices", "pymodbus", "asyncua")
_WIDTHS = (16, 13, 0, 7, 8, 8, 10, 7, 10, 10)  # 0: the last error, printed last


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `hmi` parser."""
    devices = commands.add_parser("devices", help="device connections and diagnostics")
    actions = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status", help="connect to every device, poll a few seconds, print diagnostics"
    )
    status.add_argument("--config", type=Path, required=True, help="site file (TOML)")
    status.add_argument("--json", action="store_true", help="one JSON object per device")
    status.add_argument(
        "--seconds", type=_positive_seconds, default=DEFAULT_SECONDS,
        help=f"how long to poll before printing (default {DEFAULT_SECONDS:g})",
    )
    status.set_defaults(func=_cmd_status)
    _add_write(_tags_actions(commands) or actions)


def _tags_actions(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    """The `tags` group's actions, so `write` sits beside `tags read` (None if absent)."""
    tags = commands.choices.get("tags")
    if tags is None:
        return None
    for action in tags._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _add_write(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    write = actions.add_parser(
        "write", help="write one value to a PLC (checked against the site config, read back)"
    )
    write.add_argument("--config", type=Path, required=True, help="site file (TOML)")
    write.add_argument("tag", help="tag name, as in the site file")
    write.add_argument("value", help="value in engineering units; true/false for bits")
    write.add_argument("--reason", default="", help="why (kept in the audit trail)")
    add_station_arguments(write, config=False)
    add_login_arguments(write)
    write.set_defaults(func=guarded("tags write", _cmd_write))


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return seconds


# -- devices status ---------------------------------------------------------------------


def _quiet_device_logs(args: argparse.Namespace) -> None:
    """The printed result says why a device is down; per-retry warnings only with -v."""
    if not args.verbose:
        for name in _DEVICE_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)


def _cmd_status(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    _quiet_device_logs(args)
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


# -- tags write -------------------------------------------------------------------------


def _cmd_write(args: argparse.Namespace) -> int:
    """As a logged-in user with write_setpoint (``--as``), signed when the site asks for
    it (the --as password signs too: both parts of the signature, in one command)."""
    site = load_site(args.config)
    _quiet_device_logs(args)
    station = Station.open(args, create=False, settings=site.security)
    try:
        if not station.users.has_users():
            raise CommandError("this station has no users yet: create the administrator "
                               "first (hmi users add NAME --role admin)")
        session = Session(station.auth)
        actor, password = station.log_in(args.as_user, Passwords(args.password_stdin),
                                         "tags write", Action.WRITE_SETPOINT, session=session)
        meaning = site.security.meaning(Action.WRITE_SETPOINT)
        signature = (session.sign(Action.WRITE_SETPOINT, meaning, password, actor.name)
                     if meaning else None)
        result = asyncio.run(_write(site, station, args.tag, args.value, actor, signature,
                                    args.reason))
    finally:
        station.close()
    detail = f" (read back {result.read_back!r})" if result.read_back is not None else ""
    line = f"{result.tag}: {result.outcome.value}{detail}"
    if result.ok:
        print(line)
        return EXIT_OK
    print(f"{line}: {result.message}" if result.message else line, file=sys.stderr)
    return EXIT_NOT_WRITTEN


async def _write(site: Site, station: Station, tag_name: str, text: str, actor: Actor,
                 signature: Signature | None, reason: str) -> WriteResult:
    supervisor = DeviceSupervisor(site, TagBus())
    service = WriteService(site, supervisor.write, station.guard, station.audit.record)
    try:
        tag = site.tag(tag_name)
    except KeyError:  # refused, with the reason
        return await service.write(tag_name, text, actor, signature, reason)
    try:
        return await service.write(tag_name, parse_value(tag, text), actor, signature, reason)
    finally:
        await supervisor.stop()
