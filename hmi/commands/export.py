"""`hmi export`: tag history to CSV, raw samples or resampled to a fixed step.

One row per time, times in ISO-8601 UTC; per tag a value and a quality column. A BAD
sample is an empty value with quality BAD; before a tag's first sample both are empty.
The file is written beside OUT and renamed into place, so a failed export leaves no
half file behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from hmi.commands.parser import TIME_HELP
from hmi.config import load_site
from hmi.core.history import BAD, GOOD, UNCERTAIN, HistoryError
from hmi.folders import DATABASE_FILE, data_dir
from hmi.services.history import (
    History,
    IndexArray,
    RawSeries,
    last_at_or_before,
    step_times,
)
from hmi.store.database import StoreError, open_database
from hmi.store.historian_query import HistorianQuery

EXIT_OK, EXIT_FAILURE = 0, 2
QUALITY_NAMES = {GOOD: "GOOD", UNCERTAIN: "UNCERTAIN", BAD: "BAD"}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_RELATIVE = re.compile(r"^(now)?\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])$")
_STEP = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")


class ExportError(Exception):
    """A one-line reason; the command exits 2 with it."""


def cmd_export(args: argparse.Namespace) -> int:
    try:
        return _export(args)
    except (ExportError, HistoryError, StoreError) as exc:
        print(f"hmi export: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _export(args: argparse.Namespace) -> int:
    now = time.time()
    start = parse_time(args.start, now, "--from")
    end = parse_time(args.end, now, "--to")
    step = parse_step(args.step) if args.step is not None else None
    tags = [name.strip() for name in args.tags.split(",") if name.strip()]
    if not tags:
        raise ExportError("--tags: give at least one tag name (comma separated)")
    if end < start:
        raise ExportError(
            f"the range is reversed: --to {args.end} is before --from {args.start}; swap them"
        )
    if end == start:
        raise ExportError(f"the range is empty: --from and --to are both {args.start}")
    site = load_site(args.config)
    units = {tag.name: tag.units for tag in site.tags}
    database_path = data_dir(args.data) / DATABASE_FILE
    if not database_path.is_file():
        raise ExportError(
            f"no database found at {database_path}; give the HMI's data folder with --data DIR"
        )
    with _output(args.csv) as out:
        database = open_database(database_path)
        try:
            history = History(HistorianQuery(database))
            series = asyncio.run(history.raw(tags, start, end, with_prior=step is not None))
        finally:
            database.close()
        if step is None:
            times, rows = _raw_rows(series)
        else:
            times = step_times(start, end, step)
            rows = {tag: last_at_or_before(s.times, times) for tag, s in series.items()}
        written = write_csv(out, times, series, rows, units)
    print(f"wrote {written} rows of {len(series)} tags to {args.csv}", file=sys.stderr)
    return EXIT_OK


# -- arguments --------------------------------------------------------------------------


def parse_time(text: str, now: float, option: str) -> float:
    """POSIX seconds from ISO-8601 (naive means local time) or now / -8h / now-1d."""
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    relative = _RELATIVE.match(cleaned.lower())
    if relative:
        _, sign, amount, unit = relative.groups()
        offset = float(amount) * _UNITS[unit]
        return now - offset if sign == "-" else now + offset
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ExportError(f"{option} {text!r} is not a time; use {TIME_HELP}") from None
    return moment.timestamp()  # a naive datetime is taken as local time


def parse_step(text: str) -> float:
    """Seconds from "10", "10s", "1m", "1h", "1d"."""
    match = _STEP.match(text.strip().lower())
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"] if match else 0.0
    if not seconds > 0:
        raise ExportError(
            f"--step {text!r} is not a step; give seconds (10, 0.5) or 30s, 1m, 1h"
        )
    return seconds


@contextlib.contextmanager
def _output(path: Path) -> Iterator[IO[str]]:
    """A temporary file beside ``path``, renamed onto it when the export succeeds.
    Opened before the database is read, so an unwritable OUT fails first."""
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder; give a file name")
    folder = path.parent
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed and renamed below)
            "w", encoding="utf-8", newline="", dir=folder, prefix=f".{path.name}.",
            suffix=".partial", delete=False,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportError(
            f"cannot write {path}: {reason} (folder {folder}); choose a writable place"
        ) from None
    finished = False
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
        finished = True
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if not finished:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)


# -- rows -------------------------------------------------------------------------------


def _raw_rows(series: dict[str, RawSeries]) -> tuple[np.ndarray, dict[str, IndexArray]]:
    """Every tag's sample times merged; per tag the sample at each time, or -1."""
    times = np.unique(np.concatenate([s.times for s in series.values()] or [np.empty(0)]))
    rows: dict[str, IndexArray] = {}
    for tag, samples in series.items():
        position = np.searchsorted(samples.times, times).astype(np.int64)
        found = position < len(samples.times)
        found[found] = samples.times[position[found]] == times[found]
        rows[tag] = np.where(found, position, -1)
    return times, rows


def header(tags: Sequence[str], units: dict[str, str]) -> list[str]:
    columns = ["time"]
    for tag in tags:
        label = f"{tag} [{units[tag]}]" if units.get(tag) else tag
        columns += [f"{label} value", f"{label} quality"]
    return columns


def write_csv(
    out: IO[str],
    times: np.ndarray,
    series: dict[str, RawSeries],
    rows: dict[str, IndexArray],
    units: dict[str, str],
) -> int:
    """The CSV body; returns the number of data rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header(list(series), units))
    columns = [(series[tag], rows[tag]) for tag in series]
    for n, moment in enumerate(times.tolist()):
        line = [_iso(moment)]
        for samples, index in columns:
            line += _cells(samples, int(index[n]))
        writer.writerow(line)
    return len(times)


def _cells(samples: RawSeries, index: int) -> list[str]:
    if index < 0:
        return ["", ""]  # no sample yet at this time
    quality = int(samples.quality[index])
    name = QUALITY_NAMES.get(quality, "BAD")
    if quality >= BAD:
        return ["", name]
    text = samples.texts[index]
    if text is not None:
        return [text, name]
    return [_number(float(samples.values[index])), name]


def _number(value: float) -> str:
    if np.isnan(value):  # a numeric sample without a value
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _iso(timestamp: float) -> str:
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
