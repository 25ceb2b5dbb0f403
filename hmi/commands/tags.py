"""`hmi tags read` (every configured tag once) and `hmi tags write` (one value to a PLC,
as a logged-in user, audited and read back)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from datetime import UTC, datetime

from hmi.commands.devices import quiet_device_logs
from hmi.commands.login import CommandError, Passwords, Station, guarded
from hmi.config import load_site
from hmi.core.bus import TagBus
from hmi.core.samples import Sample
from hmi.core.security import Action, Actor, Signature
from hmi.core.site import Site
from hmi.core.writes import WriteResult
from hmi.devices.supervisor import DeviceSupervisor
from hmi.security.session import Session
from hmi.services.writes import WriteService, parse_value

EXIT_OK, EXIT_NOT_WRITTEN = 0, 1


# -- tags read --------------------------------------------------------------------------


def cmd_read(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    samples = asyncio.run(_read_all(site))
    by_name = {s.tag: s for s in samples}
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


async def _read_all(site: Site) -> list[Sample]:
    supervisor = DeviceSupervisor(site, TagBus())
    try:
        return await supervisor.read_all_once()
    finally:
        await supervisor.stop()


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
