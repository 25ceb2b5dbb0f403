"""`hmi audit verify` and `hmi audit export`: check the audit trail's hash chain, and copy
a time range of it to CSV.

Who may run them: whoever can read the station's database file can already read the
trail; the operating system's file permissions are the first gate, and looking after
that file is an OS administrator's task. On top of that, `export` copies what people did
out of the station, so it takes `--as NAME` with the view_audit permission, like the
audit view on the screen (the login is audited). `verify` needs no login: it reveals
nothing but OK or where the chain breaks, and anyone checking a station should be able
to ask that.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from hmi.commands.export import ExportError, parse_time
from hmi.commands.login import (
    EXIT_BROKEN,
    EXIT_OK,
    CommandError,
    Passwords,
    Station,
    guarded,
)
from hmi.core.security import Action
from hmi.services.audit import AuditService
from hmi.store.audit import AuditFilter


@guarded("audit verify")
def cmd_verify(args: argparse.Namespace) -> int:
    station = Station.open(args, create=False)
    try:
        report = station.audit.verify()
    finally:
        station.close()
    if report.broken is not None:
        print(f"BROKEN: {report.broken}")
        return EXIT_BROKEN
    print(f"OK: {report.rows} rows, head row {report.head_seq}, hash {report.head_hash}")
    return EXIT_OK


@guarded("audit export")
def cmd_export(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        start = parse_time(args.start, now, "--from")
        end = parse_time(args.end, now, "--to")
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    if end < start:
        raise CommandError(
            f"the range is reversed: --to {args.end} is before --from {args.start}; swap them"
        )
    if end == start:
        raise CommandError(f"the range is empty: --from and --to are both {args.start}")
    if args.csv.is_dir():
        raise CommandError(f"cannot write {args.csv}: it is a folder; give a file name")
    passwords = Passwords(args.password_stdin)
    station = Station.open(args, create=False)
    try:
        actor, _ = station.log_in(args.as_user, passwords, "audit export", Action.VIEW_AUDIT)
        service = AuditService(station.audit, station.guard, lambda: actor)
        where = AuditFilter(start, end, user=args.user, action=args.action)
        written = _export(service, args.csv, where)
    finally:
        station.close()
    print(f"wrote {written} audit rows to {args.csv}", file=sys.stderr)
    return EXIT_OK


def _export(service: AuditService, out: Path, where: AuditFilter) -> int:
    """Written beside OUT and renamed into place: a failed export leaves no half file."""
    folder = out.parent
    try:
        handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.",
                                           suffix=".partial")
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc} (folder {folder}); "
                           "choose a writable place") from None
    os.close(handle)
    try:
        written = service.export_csv(Path(partial), where)
        os.replace(partial, out)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return written
