"""Read the historian: min/max buckets for trends and raw samples for exports.

Bucketing runs in the database (GROUP BY bucket index, MIN/MAX/MAX(quality)), so a week
of 1 s samples never comes to Python. Buckets a minute or wider read the per-minute
roll-ups; the newest, possibly unfinished, roll-up minute and anything after it are read
from the raw samples, so a roll-up that lags the writer loses nothing. Portable Core SQL:
SQLite and PostgreSQL differ only in how a float becomes a bucket index.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Integer, Select, and_, cast, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.history import (
    BAD,
    Buckets,
    FloatArray,
    HistoryError,
    QualityArray,
    Resolution,
    UnknownTagError,
)
from hmi.store.database import Database
from hmi.store.schema.historian import historian_minutes, historian_samples, historian_tags

log = logging.getLogger(__name__)

MINUTE = 60.0
RAW_POINTS_PER_BUCKET = 4  # at most count * 4 samples in range: return them, undecimated
ROLLUP_MIN_WIDTH = MINUTE  # buckets this wide or wider come from the minute roll-ups
MAX_BUCKETS = 100_000  # more than any screen has pixels; bounds the arrays we allocate
_KNOWN_TAGS_SHOWN = 20

__all__ = ["MAX_BUCKETS", "HistorianQuery", "RawSeries"]


@dataclass(frozen=True, slots=True)
class RawSeries:
    """One tag's stored samples in time order, as exports need them."""

    tag: str
    times: FloatArray
    values: FloatArray  # NaN where the sample is BAD or a text value
    quality: QualityArray  # GOOD, UNCERTAIN or BAD (hmi.core.history)
    texts: tuple[str | None, ...]  # string tags' values; None for numeric samples

    def __len__(self) -> int:
        return len(self.times)


class HistorianQuery:
    """Synchronous reads; callers on the event loop go through asyncio.to_thread
    (hmi.services.history). Every failure is a HistoryError saying what to do.

    ``retention_seconds``: how long any history is kept (the longer of the raw and the
    roll-up retention), or None when unknown. Raw samples purged sooner than their
    roll-ups are noticed from the data, and such ranges are read from the roll-ups.
    """

    def __init__(
        self,
        db: Database,
        retention_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_seconds is not None and not retention_seconds > 0:
            raise ValueError("retention_seconds must be positive (or None: unknown)")
        self._db = db
        self._retention = retention_seconds
        self._clock = clock

    @property
    def retention_seconds(self) -> float | None:
        return self._retention

    # -- public reads ---------------------------------------------------------------

    def tag_names(self) -> list[str]:
        """Every tag the historian has stored, sorted."""
        with self._reading() as connection:
            rows = connection.execute(
                select(historian_tags.c.name).order_by(historian_tags.c.name)
            )
            return [str(name) for name in rows.scalars()]

    def retention_note(self, start: float, end: float) -> str:
        """Why part of [start, end) shows nothing, when it lies beyond retention; else ""."""
        horizon = self._horizon()
        if horizon is None or start >= horizon or end <= horizon:
            return ""
        return (
            f"history is kept for {_duration(self._retention or 0.0)}: nothing before "
            f"{_iso(horizon)} remains, so the range starts there instead of {_iso(start)}"
        )

    def buckets(
        self, tags: Sequence[str], start: float, end: float, count: int
    ) -> dict[str, Buckets]:
        """Each tag's [start, end) in at most ``count`` equal min/max buckets, or the
        samples themselves when there are at most 4 * count of them. A start before the
        retention horizon is moved to it (``retention_note`` says so)."""
        start, end = self._checked_range(start, end)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise HistoryError(f"the bucket count must be a positive whole number, not {count!r}")
        count = min(count, MAX_BUCKETS)
        names = _unique(tags)
        with self._reading() as connection:
            ids = self._tag_ids(connection, names)
            return {
                name: self._tag_buckets(connection, name, ids[name], start, end, count)
                for name in names
            }

    def raw(
        self, tags: Sequence[str], start: float, end: float, *, with_prior: bool = False
    ) -> dict[str, RawSeries]:
        """Each tag's stored samples in [start, end); ``with_prior`` adds the last sample
        before ``start`` (the value that still held at ``start``), for resampling."""
        start, end = self._checked_range(start, end)
        names = _unique(tags)
        with self._reading() as connection:
            ids = self._tag_ids(connection, names)
            return {
                name: self._tag_raw(connection, name, ids[name], start, end, with_prior)
                for name in names
            }

    # -- checks -----------------------------------------------------------------------

    def _horizon(self) -> float | None:
        return None if self._retention is None else self._clock() - self._retention

    def _checked_range(self, start: float, end: float) -> tuple[float, float]:
        if not (_is_number(start) and _is_number(end)):
            raise HistoryError(
                f"the time range must be two finite POSIX times, not {start!r} .. {end!r}"
            )
        start, end = float(start), float(end)
        if end < start:
            raise HistoryError(
                f"the time range is reversed: it ends at {_iso(end)}, before it starts at "
                f"{_iso(start)}; swap the start and the end"
            )
        if end == start:
            raise HistoryError(
                f"the time range is empty: it starts and ends at {_iso(start)}; choose an "
                "end after the start"
            )
        horizon = self._horizon()
        if horizon is not None and start < horizon:
            if end <= horizon:
                raise HistoryError(
                    f"the range {_iso(start)} .. {_iso(end)} is older than the history kept: "
                    f"samples are kept for {_duration(self._retention or 0.0)}, so nothing "
                    f"before {_iso(horizon)} remains; choose a range after that"
                )
            log.info("history range starts before retention; reading from %s", _iso(horizon))
            start = horizon
        return start, end

    def _tag_ids(self, connection: Connection, names: list[str]) -> dict[str, int]:
        if not names:
            return {}
        rows = connection.execute(
            select(historian_tags.c.name, historian_tags.c.id).where(
                historian_tags.c.name.in_(names)
            )
        )
        ids = {str(name): int(tag_id) for name, tag_id in rows}
        unknown = [name for name in names if name not in ids]
        if unknown:
            known = connection.execute(
                select(historian_tags.c.name)
                .order_by(historian_tags.c.name)
                .limit(_KNOWN_TAGS_SHOWN + 1)
            ).scalars().all()
            raise UnknownTagError(
                _unknown_tags_message(unknown, [str(k) for k in known]), unknown
            )
        return ids

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One connection (one read snapshot) for a request; database errors become
        HistoryError so the caller can show them and carry on."""
        try:
            with self._db.engine.connect() as connection:
                yield connection
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise HistoryError(_unreadable_message(self._db.location, exc)) from exc

    # -- one tag ------------------------------------------------------------------------

    def _tag_buckets(
        self, connection: Connection, name: str, tag_id: int, start: float, end: float,
        count: int,
    ) -> Buckets:
        samples = historian_samples.c
        in_range = and_(samples.tag_id == tag_id, samples.t >= start, samples.t < end)
        limit = RAW_POINTS_PER_BUCKET * count
        probe = select(literal(1)).where(in_range).limit(limit + 1).subquery()
        few = connection.execute(select(func.count()).select_from(probe)).scalar_one() <= limit
        if self._raw_purged(connection, tag_id, start, end):
            # Raw retention is shorter than the roll-ups': what is left is per minute.
            return self._rollup_buckets(connection, name, tag_id, start, end, count)
        if few:
            return self._raw_points(connection, name, in_range, start, end)
        width = (end - start) / count
        if width >= ROLLUP_MIN_WIDTH:
            return self._rollup_buckets(connection, name, tag_id, start, end, count)
        rows = connection.execute(self._grouped_raw(in_range, start, width)).all()
        return _assemble(name, start, end, count, rows, Resolution.RAW)

    def _raw_purged(self, connection: Connection, tag_id: int, start: float, end: float) -> bool:
        """Roll-ups exist in the range before the tag's oldest raw sample: retention has
        deleted those raw samples (the writer stores every tag's first sample, so a
        roll-up minute before the oldest sample's minute means a purge)."""
        samples, minutes = historian_samples.c, historian_minutes.c
        oldest = connection.execute(
            select(func.min(samples.t)).where(samples.tag_id == tag_id)
        ).scalar_one_or_none()
        if oldest is not None and oldest <= start:
            return False
        until = end if oldest is None else min(end, math.floor(oldest / MINUTE) * MINUTE)
        earlier = connection.execute(
            select(minutes.minute)
            .where(
                minutes.tag_id == tag_id,
                minutes.minute >= math.floor(start / MINUTE) * MINUTE,
                minutes.minute < until,
            )
            .limit(1)
        ).first()
        return earlier is not None

    def _raw_points(
        self, connection: Connection, name: str, in_range: ColumnElement[bool], start: float,
        end: float,
    ) -> Buckets:
        samples = historian_samples.c
        rows = connection.execute(
            select(samples.t, samples.value, samples.quality).where(in_range).order_by(samples.t)
        ).all()
        times = _floats(row[0] for row in rows)
        values = _floats(row[1] for row in rows)
        quality = np.fromiter((row[2] for row in rows), dtype=np.int8, count=len(rows))
        return Buckets(name, start, end, times, values, values.copy(), quality, Resolution.RAW)

    def _rollup_buckets(
        self, connection: Connection, name: str, tag_id: int, start: float, end: float,
        count: int,
    ) -> Buckets:
        minutes = historian_minutes.c
        samples = historian_samples.c
        width = (end - start) / count
        # Whole minutes inside the range only: part-minutes at either end come from raw
        # samples, and so does the tag's newest minute, which the writer may still fill.
        first_minute = min(math.ceil(start / MINUTE) * MINUTE, end)
        newest = connection.execute(
            select(func.max(minutes.minute)).where(minutes.tag_id == tag_id)
        ).scalar_one_or_none()
        rolled_until = math.floor(end / MINUTE) * MINUTE
        if newest is not None:
            rolled_until = min(rolled_until, float(newest))
        rolled: list[Any] = []
        if first_minute < rolled_until:
            index = self._bucket_index(minutes.minute, start, width)
            rolled = list(connection.execute(
                select(index, func.min(minutes.min), func.max(minutes.max),
                       func.max(minutes.quality))
                .where(
                    minutes.tag_id == tag_id,
                    minutes.minute >= first_minute,
                    minutes.minute < rolled_until,
                )
                .group_by(index)
            ))
        if not rolled:  # no roll-ups (yet) for this range: decimate the raw samples
            log.debug("no minute roll-ups for %s in range; grouping raw samples", name)
            in_range = and_(samples.tag_id == tag_id, samples.t >= start, samples.t < end)
            rows = connection.execute(self._grouped_raw(in_range, start, width)).all()
            return _assemble(name, start, end, count, rows, Resolution.RAW)
        # Two queries, not one with OR: SQLite uses the (tag_id, t) key only for a range.
        edges: list[Any] = []
        for low, high in ((start, first_minute), (rolled_until, end)):
            if low < high:
                in_edge = and_(samples.tag_id == tag_id, samples.t >= low, samples.t < high)
                edges += connection.execute(self._grouped_raw(in_edge, start, width)).all()
        return _assemble(name, start, end, count, [*rolled, *edges], Resolution.MINUTE)

    def _grouped_raw(
        self, where: ColumnElement[bool], start: float, width: float
    ) -> Select:  # type: ignore[type-arg]  # its parameters differ in SQLAlchemy 2.0/2.1
        samples = historian_samples.c
        index = self._bucket_index(samples.t, start, width)
        return (
            select(index, func.min(samples.value), func.max(samples.value),
                   func.max(samples.quality))
            .where(where)
            .group_by(index)
        )

    def _bucket_index(
        self, column: ColumnElement[float], start: float, width: float
    ) -> ColumnElement[int]:
        offset = (column - start) / width
        if self._db.is_sqlite:
            # SQLite's CAST truncates toward zero: floor for the (non-negative) offsets
            # here, and floor() itself is missing from SQLite builds without math functions.
            return cast(offset, Integer).label("bucket")
        # PostgreSQL's CAST rounds to nearest (2.7 -> 3): floor first.
        return cast(func.floor(offset), Integer).label("bucket")

    def _tag_raw(
        self, connection: Connection, name: str, tag_id: int, start: float, end: float,
        with_prior: bool,
    ) -> RawSeries:
        samples = historian_samples.c
        columns = (samples.t, samples.value, samples.text, samples.quality)
        rows = list(
            connection.execute(
                select(*columns)
                .where(samples.tag_id == tag_id, samples.t >= start, samples.t < end)
                .order_by(samples.t)
            )
        )
        if with_prior:
            prior = connection.execute(
                select(*columns)
                .where(samples.tag_id == tag_id, samples.t < start)
                .order_by(samples.t.desc())
                .limit(1)
            ).first()
            if prior is not None:
                rows.insert(0, prior)
        return RawSeries(
            tag=name,
            times=_floats(row[0] for row in rows),
            values=_floats(row[1] for row in rows),
            quality=np.fromiter((row[3] for row in rows), dtype=np.int8, count=len(rows)),
            texts=tuple(row[2] for row in rows),
        )


# -- helpers ----------------------------------------------------------------------------


def _assemble(
    name: str, start: float, end: float, count: int, rows: Sequence[Any],
    resolution: Resolution,
) -> Buckets:
    """``count`` buckets from (index, min, max, quality) rows; rows may repeat an index
    (roll-ups plus raw edges) and are merged: min of mins, max of maxs, worst quality."""
    width = (end - start) / count
    times = start + width * np.arange(count, dtype=np.float64)
    mins = np.full(count, np.nan)
    maxs = np.full(count, np.nan)
    quality = np.zeros(count, dtype=np.int8)
    if rows:
        # Rounding can put a sample just below ``end`` at index ``count``: clamp.
        index = np.clip(np.fromiter((r[0] for r in rows), np.int64, len(rows)), 0, count - 1)
        np.fmin.at(mins, index, _floats(r[1] for r in rows))  # fmin/fmax skip NaN (all BAD)
        np.fmax.at(maxs, index, _floats(r[2] for r in rows))
        worst = np.fromiter((min(int(r[3]), BAD) for r in rows), np.int8, len(rows))
        np.maximum.at(quality, index, worst)
    return Buckets(name, start, end, times, mins, maxs, quality, resolution)


def _floats(values: Iterable[Any]) -> FloatArray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def _unique(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise HistoryError(f"tags must be a list of names, not the string {tags!r}")
    return list(dict.fromkeys(tags))


def _unknown_tags_message(unknown: list[str], known: list[str]) -> str:
    what = ", ".join(repr(name) for name in unknown)
    noun = "tag" if len(unknown) == 1 else "tags"
    if not known:
        return (
            f"no history for {noun} {what}: the historian has stored no tags yet; "
            "is the historian recording, and is this the right database?"
        )
    shown = ", ".join(known[:_KNOWN_TAGS_SHOWN])
    more = ", ..." if len(known) > _KNOWN_TAGS_SHOWN else ""
    return (
        f"no history for {noun} {what}; tags with history: {shown}{more} "
        "(names are case-sensitive)"
    )


def _unreadable_message(location: str, exc: BaseException) -> str:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    lowered = reason.lower()
    if "locked" in lowered or "busy" in lowered:
        hint = (
            "another program holds the database locked (a backup or copy tool, or an HMI "
            "opened exclusively); try again in a moment, or close that program"
        )
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        hint = (
            "the file is damaged or is not an HMI database; restore it from a backup or "
            "choose the right data folder"
        )
    elif "no such table" in lowered or "does not exist" in lowered:
        hint = (
            "the database has no historian tables (made by an older HMI?); open it once "
            "with this version of the HMI to upgrade it"
        )
    elif "unable to open" in lowered or "permission" in lowered or "readonly" in lowered:
        hint = "check that the database file exists and that this user may read it"
    else:
        hint = "check the database file or server, its permissions and free disk space"
    return f"cannot read history from {location}: {reason}; {hint}"


def _iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return repr(timestamp)


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            amount = seconds / size
            text = f"{amount:g}" if amount == int(amount) else f"{amount:.1f}"
            return f"{text} {unit}{'' if text == '1' else 's'}"
    return f"{seconds:g} s"
