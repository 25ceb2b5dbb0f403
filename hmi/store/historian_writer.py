"""Historian ingest: which samples to store, per-minute roll-ups, and batched writes.

``HistorianWriter`` is synchronous and not thread-safe: the historian service calls it
from one worker thread at a time (asyncio.to_thread). Samples go through the exception
filter into a bounded in-memory pending buffer; ``flush`` writes the buffer in
transactions of raw rows plus the roll-up upserts of the same samples. A transaction that
fails leaves its rows pending for the next flush, so a locked, read-only or full database
delays history but loses none of it, up to the buffer's bound (then the oldest pending
rows go, counted and logged).
"""

from __future__ import annotations

import logging
import math
import operator
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from hmi.core.deadband import moved
from hmi.core.history import BAD, GOOD, UNCERTAIN
from hmi.core.samples import Quality, Sample
from hmi.store.database import BUSY_TIMEOUT_MS, Database
from hmi.store.historian_statements import HistorianStatements, Row
from hmi.store.schema.historian import historian_tags

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 60.0  # seconds: an unchanging tag is still stored this often
MINUTE = 60.0
QUALITY_CODE = {Quality.GOOD: GOOD, Quality.UNCERTAIN: UNCERTAIN, Quality.BAD: BAD}
_GOOD, _BAD = Quality.GOOD, Quality.BAD
DROP_LOG_INTERVAL = 10.0  # seconds between two warnings about dropped pending rows

_BY_TAG = operator.itemgetter(0)


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text refuses NUL; SQLite would keep it


def sample_row(sample: Sample) -> Row:
    """The stored form of a sample: BAD has no value (a gap), text goes to ``text``, a
    value that is no finite-or-infinite number (NaN, a huge int) is stored as NULL with a
    detail saying so (SQLite cannot store NaN)."""
    value = sample.value
    # identity tests against module constants: an Enum's hash is Python code, 5x slower,
    # and reading a member off the Enum class costs ten times a global's lookup
    quality = sample.quality
    # the bulk of any load first: a GOOD float, not NaN, without a detail (half the time)
    if (
        type(value) is float
        and quality is _GOOD
        and value == value  # noqa: PLR0124 (False for NaN only: the test without a call)
        and not sample.detail
    ):
        return (sample.tag, sample.source_time, value, None, GOOD, None)
    code = GOOD if quality is _GOOD else BAD if quality is _BAD else UNCERTAIN
    detail = _clean(sample.detail) if sample.detail else None
    if code == BAD or value is None:
        return (sample.tag, sample.source_time, None, None, code, detail)
    if isinstance(value, str):
        return (sample.tag, sample.source_time, None, _clean(value), code, detail)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return (sample.tag, sample.source_time, None, None, code, f"not a number: {value!r}")
    if math.isnan(number):
        return (sample.tag, sample.source_time, None, None, code, detail or "NaN")
    return (sample.tag, sample.source_time, number, None, code, detail)


class ExceptionFilter:
    """Exception-based storage: a sample is stored when its quality differs from the last
    stored one, its value moved past the tag's deadband (hmi.core.deadband.moved, the rule
    the devices apply: more than the deadband; any change for deadband 0, any change of
    text), or ``heartbeat`` seconds passed since the last stored sample.

    When a change is stored, the last sample held back before it is stored too (the
    "previous value" rule of exception reporting), so a step stays a step on the trend
    instead of becoming a ramp from the last stored point.
    """

    def __init__(
        self, deadbands: Mapping[str, float] | None = None, heartbeat: float = DEFAULT_HEARTBEAT
    ) -> None:
        if heartbeat < 0:
            raise ValueError(f"heartbeat must be 0 or more seconds, not {heartbeat}")
        self.heartbeat = heartbeat
        self._deadbands = {tag: band for tag, band in (deadbands or {}).items() if band > 0}
        # per tag: the last stored row, and the last received row not stored (held back).
        # Two dicts of tuples, not an object per tag: tuples of numbers and text leave the
        # garbage collector's lists, so its full collections do not walk 55,000 of them
        self._stored: dict[str, Row] = {}
        self._held: dict[str, Row] = {}

    def select(self, rows: Iterable[Row]) -> list[Row]:
        """The rows to store of these (``sample_row`` of each sample, arrival order)."""
        out: list[Row] = []
        append = out.append
        stored_of, held_of = self._stored, self._held
        deadbands = self._deadbands
        heartbeat = self.heartbeat
        past_deadband = moved
        for row in rows:
            tag, t, value, text, code, _detail = row
            stored = stored_of.get(tag)
            if stored is None:
                stored_of[tag] = row
                append(row)
                continue
            if code != stored[4]:
                changed = True
            elif text is not None or stored[3] is not None:
                changed = text != stored[3]
            elif value is None or stored[2] is None:
                changed = value is not stored[2]
            else:
                # hmi.core.deadband.moved, called only for tags with a deadband: for the
                # others it is "any change", and its call was a fifth of this loop
                band = deadbands.get(tag)
                changed = value != stored[2] if band is None else past_deadband(
                    stored[2], value, band)
            if changed:
                if held_of:
                    held = held_of.pop(tag, None)
                    if held is not None and held[1] > stored[1]:
                        append(held)
            elif t - stored[1] < heartbeat:
                if t != stored[1]:
                    held_of[tag] = row
                continue
            elif held_of:
                held_of.pop(tag, None)
            append(row)
            stored_of[tag] = row
        return out


# A tag's roll-up of one minute, accumulated in memory until its upsert: minute, min,
# max, sum, count, first, last, first_t, last_t, quality, the upsert's parameters after
# the tag's id (NULL numbers while it has none). A list changed in place: a tag with
# several samples in a batch allocates nothing more.
Minute = list[Any]


def accumulate_minutes(
    rows: Iterable[Row], minutes: dict[str, Minute], closed: list[tuple[str, Minute]]
) -> None:
    """Fold every received row (stored or not) into its tag's roll-up of the minute
    (``minutes``, one per tag: one lookup by the tag's name, its hash cached); a tag's
    roll-up of an earlier minute (or of a later one, after a clock stepped back) moves to
    ``closed``. Two roll-ups of one tag and minute are merged by the upsert."""
    # comparisons, not min() and max(): the same result (numbers here are never NaN),
    # without two calls per sample, a third of this loop's time
    get = minutes.get
    for tag, t, number, _text, code, _detail in rows:
        minute = t - t % MINUTE
        agg = get(tag)
        if agg is None or agg[0] != minute:
            if agg is not None:
                closed.append((tag, agg))
            if number is None:
                minutes[tag] = [minute, None, None, 0.0, 0, None, None, None, None, code]
            else:  # the bulk: a tag's first sample of the batch, a number
                minutes[tag] = [minute, number, number, number, 1, number, number, t, t, code]
            continue
        if code > agg[9]:  # noqa: PLR1730 (see above)
            agg[9] = code
        if number is None:
            continue
        if not agg[4]:
            agg[1:9] = number, number, number, 1, number, number, t, t
            continue
        if number < agg[1]:  # noqa: PLR1730
            agg[1] = number
        if number > agg[2]:  # noqa: PLR1730
            agg[2] = number
        agg[3] += number
        agg[4] += 1
        if t < agg[7]:
            agg[5] = number
            agg[7] = t
        if t >= agg[8]:
            agg[6] = number
            agg[8] = t


_TagMinute = tuple[str, Minute]
_Unwritten = tuple[list[Row], list[_TagMinute], SQLAlchemyError]


@dataclass(frozen=True, slots=True)
class WriterStatus:
    """What the GUI shows about the historian's writes."""

    healthy: bool  # the last write attempt succeeded (or none was needed)
    last_error: str  # why the last write failed, for the operator; "" when healthy
    pending_rows: int  # raw rows waiting in memory to be written (retried)
    pending_minutes: int  # minute roll-ups waiting likewise
    received: int  # samples handed to the writer
    stored: int  # raw rows committed
    dropped: int  # pending rows and roll-ups given up because the buffer was full
    rejected: int  # rows the database refused on their own (logged one by one)
    last_write_at: float | None  # wall clock of the last successful commit


class HistorianWriter:
    """Filter, roll up and write samples in batches; never raises for a database that
    cannot be written: the rows stay pending and ``status`` says why."""

    def __init__(
        self,
        db: Database,
        deadbands: Mapping[str, float] | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
        max_pending_rows: int = 500_000,
        transaction_rows: int = 20_000,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        if max_pending_rows < 1 or transaction_rows < 1:
            raise ValueError("max_pending_rows and transaction_rows must be positive")
        self.location = db.location
        self.engine: Engine = db.ingest_engine(busy_timeout_ms)
        self.filter = ExceptionFilter(deadbands, heartbeat)
        self.max_pending_rows = max_pending_rows
        self.transaction_rows = transaction_rows
        self._statements = HistorianStatements(self.engine)
        self._rows: list[Row] = []
        self._minutes: dict[str, Minute] = {}  # per tag, its latest minute's roll-up
        self._closed_minutes: list[_TagMinute] = []  # other roll-ups not yet written
        self._tag_ids: dict[str, int] = {}
        self._received = self._stored = self._dropped = self._rejected = 0
        self._unlogged_drops = 0
        self._drop_logged_at = -math.inf
        self._last_write_at: float | None = None
        self.last_error = ""

    @property
    def pending_rows(self) -> int:
        return len(self._rows)

    @property
    def has_pending(self) -> bool:
        return bool(self._rows or self._minutes or self._closed_minutes)

    @property
    def status(self) -> WriterStatus:
        return WriterStatus(
            healthy=not self.last_error,
            last_error=self.last_error,
            pending_rows=len(self._rows),
            pending_minutes=len(self._minutes) + len(self._closed_minutes),
            received=self._received,
            stored=self._stored,
            dropped=self._dropped,
            rejected=self._rejected,
            last_write_at=self._last_write_at,
        )

    def add(self, samples: Sequence[Sample]) -> None:
        """Filter samples into the pending rows and fold them into the roll-ups."""
        # sample_row's first case inlined: a call per sample is a tenth of the writer
        rows = [
            (s.tag, s.source_time, s.value, None, GOOD, None)
            if type(s.value) is float and s.quality is _GOOD and s.value == s.value  # not NaN
            and not s.detail
            else sample_row(s)
            for s in samples
        ]
        self._received += len(rows)
        self._rows.extend(self.filter.select(rows))
        accumulate_minutes(rows, self._minutes, self._closed_minutes)
        self._enforce_bound()

    def write(self, samples: Sequence[Sample]) -> bool:
        """``add`` then ``flush``."""
        self.add(samples)
        return self.flush()

    def flush(self) -> bool:
        """Write everything pending, one transaction per ``transaction_rows`` rows.
        True when nothing is left pending; False (and ``last_error`` set) otherwise."""
        if self._minutes:  # every roll-up goes with this flush's rows
            self._closed_minutes.extend(self._minutes.items())
            self._minutes = {}
        while self._rows or self._closed_minutes:
            rows = self._rows[: self.transaction_rows]
            minutes = self._closed_minutes[: self.transaction_rows]
            del self._rows[: len(rows)]
            del self._closed_minutes[: len(minutes)]
            unwritten = self._write(rows, minutes)
            if unwritten is not None:
                left_rows, left_minutes, exc = unwritten
                self._rows[:0] = left_rows
                self._keep_minutes(left_minutes)
                self._fail(exc)
                return False
        if self.last_error:
            log.info("historian writes to %s work again", self.location)
        self.last_error = ""
        return True

    def _keep_minutes(self, unwritten: list[_TagMinute]) -> None:
        """Put roll-ups a failed flush did not write back in front of the pending ones.
        A tag's latest goes back to accumulating (``_minutes``), so the samples of its
        minute that come during an outage fold into it: the pending roll-ups grow by one
        per tag a minute however often a retry fails, as they did before that flush."""
        closed: list[_TagMinute] = []
        for tag, minute in reversed(unwritten):
            if tag in self._minutes:
                closed.append((tag, minute))
            else:
                self._minutes[tag] = minute
        closed.reverse()
        self._closed_minutes[:0] = closed

    def _write(self, rows: list[Row], minutes: list[_TagMinute]) -> _Unwritten | None:
        """Commit rows and roll-ups; None when done, else what is left and why.

        A row the database refuses on its own (constraint, value) must not block every row
        after it: such a batch is written in halves, each its own transaction, down to
        single rows, which are rejected (logged, counted)."""
        work = [(rows, minutes)]
        while work:
            part_rows, part_minutes = work.pop()
            size = len(part_rows) + len(part_minutes)
            if not size:
                continue
            try:
                self._commit(part_rows, part_minutes)
            except SQLAlchemyError as exc:
                if not _row_specific(exc):
                    work.append((part_rows, part_minutes))
                    left_rows = [row for r, _ in reversed(work) for row in r]
                    left_minutes = [minute for _, m in reversed(work) for minute in m]
                    return left_rows, left_minutes, exc
                if size == 1:
                    what = part_rows[0] if part_rows else part_minutes[0][:2]
                    self._rejected += 1
                    log.error("historian: %s refused %r: %s", self.location, what, exc)
                    continue
                half_rows, half_minutes = len(part_rows) // 2, len(part_minutes) // 2
                work.append((part_rows[half_rows:], part_minutes[half_minutes:]))
                work.append((part_rows[:half_rows], part_minutes[:half_minutes]))
        return None

    def _commit(self, rows: list[Row], minutes: list[_TagMinute]) -> None:
        with self.engine.begin() as connection:
            names = set(map(_BY_TAG, rows))
            names.update(map(_BY_TAG, minutes))
            new_ids = self._resolve_tags(connection, names)
            ids = self._tag_ids if not new_ids else {**self._tag_ids, **new_ids}
            if rows:
                self._statements.execute_samples(connection, rows, ids)
            if minutes:
                self._statements.execute_minutes(connection, minutes, ids)
        self._tag_ids.update(new_ids)  # only ids of a committed transaction are cached
        self._stored += len(rows)
        self._last_write_at = time.time()

    def _resolve_tags(self, connection: Connection, names: set[str]) -> dict[str, int]:
        missing = sorted(names - self._tag_ids.keys())
        if not missing:
            return {}
        self._statements.execute_tags(connection, [(name,) for name in missing])
        found: dict[str, int] = {}
        column = historian_tags.c
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            query = select(column.name, column.id).where(column.name.in_(chunk))
            found.update(connection.execute(query).all())  # one fetch, not a row at a time
        return found

    def _fail(self, exc: SQLAlchemyError) -> None:
        message = describe_write_error(exc, self.location)
        message += f"; {len(self._rows)} samples are kept in memory and retried"
        if message != self.last_error:
            log.error("historian: %s", message)
        self.last_error = message

    def _enforce_bound(self) -> None:
        excess = len(self._rows) - self.max_pending_rows
        if excess > 0:
            del self._rows[:excess]
            self._count_drop(excess)
        excess = len(self._closed_minutes) - self.max_pending_rows
        if excess > 0:
            del self._closed_minutes[:excess]
            self._count_drop(excess)

    def _count_drop(self, count: int) -> None:
        self._dropped += count
        self._unlogged_drops += count
        now = time.monotonic()
        if now - self._drop_logged_at >= DROP_LOG_INTERVAL:
            log.warning(
                "historian: the pending buffer is full (%d rows, policy drop_oldest): %d "
                "oldest rows dropped since the last warning, %d in all; %s",
                self.max_pending_rows, self._unlogged_drops, self._dropped,
                self.last_error or "the database is not keeping up",
            )
            self._unlogged_drops = 0
            self._drop_logged_at = now


def _row_specific(exc: SQLAlchemyError) -> bool:
    """Errors caused by one row's content (retrying it cannot help), as opposed to the
    database being unavailable (locked, read-only, full, gone), which a retry can fix."""
    return isinstance(exc, IntegrityError | DataError) or not isinstance(exc, DBAPIError)


def describe_write_error(exc: BaseException, location: str) -> str:
    """A message for the operator: what is wrong with the database and what to do."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    lowered = reason.lower()
    if "locked" in lowered or "busy" in lowered:
        hint = "another program holds a write lock on it; close that program"
    elif "full" in lowered or "no space" in lowered:
        hint = "its disk is full; free disk space"
    elif "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        hint = "it is read-only; give this user write access"
    elif "malformed" in lowered or "not a database" in lowered:
        hint = "the file is damaged; restore it from a backup"
    else:
        hint = "check the connection, permissions and free disk space"
    return f"cannot write history to {location}: {reason}; {hint}"


