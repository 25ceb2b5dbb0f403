"""`hmi tags read` (every tag's first value, devices started as the app starts them) and
`hmi tags write` (one value to a PLC, as a logged-in user, audited and read back)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hmi.commands.devices import one_line_refusals, quiet_device_logs
from hmi.commands.login import CommandError, Passwords, Station, guarded
from hmi.config import load_site
from hmi.core.samples import Sample
from hmi.core.security import Action, Actor, Signature
from hmi.core.site import Site
from hmi.core.writes import WriteResult
from hmi.folders import data_dir
from hmi.security.session import Session
from hmi.services.writes import WriteService, parse_value
from hmi.station import StationDevices, require_keyring

EXIT_OK, EXIT_NOT_WRITTEN = 0, 1


# -- tags read --------------------------------------------------------------------------


@one_line_refusals("tags read")
def cmd_read(args: argparse.Namespace) -> int:
    """Every tag as the app first sees it: the station's devices started as the app
    starts them (trust store, keyring), each tag's first value or the reason it has none."""
    site = load_site(args.config)
    by_name = asyncio.run(_first_values(site, data_dir(args.data)))
    for tag in site.tags:
        sample = by_name.get(tag.name)
        if sample is None:  # every configured tag is printed, answered or not
            now = time.time()
            sample = Sample.bad(tag.name, "no answer for this tag", now)
        if args.json:
            print(json.dumps(_sample_json(sample, tag.units), ensure_ascii=False))
        else:
            print(_sample_line(sample, tag.units))
    return EXIT_OK


async def _first_values(site: Site, data: Path) -> dict[str, Sample]:
    async with StationDevices(site, data) as devices:
        return await devices.first_values()


def _sample_json(sample: Sample, units: str) -> dict[str, object]:
    value = sample.value
    if isinstance(value, float) and not math.isfinite(value):
        value = None  # JSON has no NaN; the quality and detail say what happened
    return {
        "name": sample.tag,
        "value": value,
        "units": units,
        "quality": sample.quality.value,
        "detail": sample.detail,
        "timestamp": _iso(sample.source_time),
    }


def _sample_line(sample: Sample, units: str) -> str:
    value = "—" if sample.value is None else str(sample.value)
    quality = sample.quality.value + (f" ({sample.detail})" if sample.detail else "")
    return f"{sample.tag:<28} {value:>14} {units:<6} {quality:<10} {_iso(sample.source_time)}"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


# -- tags write -------------------------------------------------------------------------


@guarded("tags write")
def cmd_write(args: argparse.Namespace) -> int:
    """As a logged-in user with write_setpoint (``--as``), signed when the site asks for
    it (the --as password signs too: both parts of the signature, in one command)."""
    site = load_site(args.config)
    quiet_device_logs(args)
    require_keyring(site)  # before anyone types a password
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
        result = asyncio.run(_write(site, data_dir(args.data), station, args.tag, args.value,
                                    actor, signature, args.reason))
    finally:
        station.close()
    detail = f" (read back {result.read_back!r})" if result.read_back is not None else ""
    line = f"{result.tag}: {result.outcome.value}{detail}"
    if result.ok:
        print(line)
        return EXIT_OK
    print(f"{line}: {result.message}" if result.message else line, file=sys.stderr)
    return EXIT_NOT_WRITTEN


async def _write(site: Site, data: Path, station: Station, tag_name: str, text: str,
                 actor: Actor, signature: Signature | None, reason: str) -> WriteResult:
    """Through the write service, as at the screen; the devices start only for a write
    that passed its checks (``StationDevices.write``), and stop after it."""
    devices = StationDevices(site, data)
    service = WriteService(site, devices.write, station.guard, station.audit.record)
    try:
        tag = site.tag(tag_name)
    except KeyError:  # refused, with the reason
        return await service.write(tag_name, text, actor, signature, reason)
    try:
        return await service.write(tag_name, parse_value(tag, text), actor, signature, reason)
    finally:
        await devices.stop()
