"""The historian's SQL: raw-row inserts and minute roll-up upserts, compiled once for the
engine's dialect (SQLite or PostgreSQL) and run as plain executemany. Used by
hmi.store.historian_writer, which decides what to write and when."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, case, literal_column, null
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hmi.core.history import GOOD
from hmi.store.database import StoreError
from hmi.store.schema.historian import historian_minutes, historian_samples, historian_tags

# tag, t, value, text, quality, detail: one historian_samples row before the tag's id
Row = tuple[str, float, float | None, str | None, int, str | None]
_BY_TAG = operator.itemgetter(0)
_Compiled = tuple[str, list[str] | None]  # SQL, and the parameter names if not positional


# SQLite: rows per INSERT ... VALUES (...), (...), ... Each execution of a statement has
# a fixed cost (bind, step and reset, in Python and in SQLite) of about a third of a row's
# insert; a hundred rows a statement take a quarter off the insert time. 999 is the
# parameter limit of SQLite builds before 3.32.
SQLITE_ROWS_PER_STATEMENT = 100
SQLITE_MAX_PARAMETERS = 999


@dataclass(frozen=True, slots=True)
class _Upsert:
    one: _Compiled  # one row a statement, run as executemany
    many: str | None = None  # SQLite: ``rows`` rows a statement, positional parameters
    rows: int = 1


class HistorianStatements:
    """The historian's upserts, compiled once for the engine's dialect and run as plain
    executemany: SQLAlchemy's per-row parameter processing would halve the ingest rate,
    and these values (floats, ints, text) need none.

    On SQLite the samples and roll-ups go many rows a statement. Not on PostgreSQL: there
    one statement may not upsert the same row twice (two samples of a tag at one time),
    and psycopg already pipelines an executemany."""

    def __init__(self, engine: Engine) -> None:
        name = engine.dialect.name
        if name == "sqlite":
            self._insert: Any = sqlite.insert
        elif name == "postgresql":
            self._insert = postgresql.insert
        else:
            raise StoreError(f"the historian supports SQLite and PostgreSQL, not {name}")
        self._dialect = engine.dialect
        self._samples = self._upsert(
            historian_samples,
            ("tag_id", "t"),
            lambda new: {c: new[c] for c in ("value", "text", "quality", "detail")},
        )
        self._plain_samples = self._upsert(
            historian_samples,
            ("tag_id", "t"),
            lambda new: {c: new[c] for c in ("value", "text", "quality", "detail")},
            fixed={"text": null(), "quality": literal_column(str(GOOD)), "detail": null()},
        ).many
        self._minutes = self._upsert(historian_minutes, ("tag_id", "minute"), _merge_minutes)
        self._single_minutes = self._single_sample_minutes() if name == "sqlite" else None
        tags = self._insert(historian_tags).on_conflict_do_nothing(
            index_elements=[historian_tags.c.name]
        )
        self._tags = _Upsert(self._compile(tags, ["name"]))

    def _upsert(
        self,
        table: Table,
        conflict: tuple[str, ...],
        merge: Callable[[Any], dict[str, Any]],
        fixed: Mapping[str, Any] | None = None,
    ) -> _Upsert:
        """INSERT ... ON CONFLICT (``conflict``) DO UPDATE SET ``merge(excluded)``; the
        columns in ``fixed`` take that SQL instead of a parameter (SQLite's many-row form
        only)."""
        fixed = fixed or {}
        keys = [c.name for c in table.c if c.name not in fixed]

        def build(values: list[dict[str, Any]] | None) -> Any:
            statement = self._insert(table)
            if values is not None:
                statement = statement.values(values)
            return statement.on_conflict_do_update(
                index_elements=[table.c[key] for key in conflict],
                set_=merge(statement.excluded),
            )

        one = self._compile(build(None), keys)
        if self._dialect.name != "sqlite":
            return _Upsert(one)
        rows = min(SQLITE_ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // len(keys))
        names = [f"{key}_{i}" for i in range(rows) for key in keys]
        values: list[dict[str, Any]] = [
            {key: bindparam(name) for key, name in zip(keys, names[i : i + len(keys)], strict=True)}
            | dict(fixed)
            for i in range(0, len(names), len(keys))
        ]
        compiled = build(values).compile(dialect=self._dialect)
        assert compiled.positional
        assert list(compiled.positiontup) == names, compiled.positiontup
        return _Upsert(one, str(compiled), rows)

    def _single_sample_minutes(self) -> str:
        """SQLite: the roll-up upsert of minutes of one numeric sample each (at plant
        scale nearly all: a tag's one sample of a batch), ``SQLITE_ROWS_PER_STATEMENT`` a
        statement. A row binds five parameters, not eleven: numbered (?NNN), each bound
        once and used for min, max, sum, first and last alike (the value) and for
        first_t and last_t (its time)."""
        size = _SINGLE_MINUTE_WIDTH
        values: list[dict[str, Any]] = []
        for row in range(SQLITE_ROWS_PER_STATEMENT):
            numbered: list[Any] = [
                literal_column(f"?{size * row + k}") for k in range(1, size + 1)
            ]
            tag_id, minute, value, t, quality = numbered
            values.append({
                "tag_id": tag_id, "minute": minute, "min": value, "max": value, "sum": value,
                "count": literal_column("1"), "first": value, "last": value, "first_t": t,
                "last_t": t, "quality": quality,
            })
        statement = sqlite.insert(historian_minutes).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[historian_minutes.c.tag_id, historian_minutes.c.minute],
            set_=_merge_minutes(statement.excluded),
        )
        compiled = statement.compile(dialect=self._dialect)
        assert not compiled.positiontup, compiled.positiontup
        return str(compiled)

    def _compile(self, statement: Any, keys: list[str]) -> _Compiled:
        compiled = statement.compile(dialect=self._dialect, column_keys=keys)
        if compiled.positional:
            assert list(compiled.positiontup) == keys, compiled.positiontup
            return str(compiled), None
        return str(compiled), keys

    @staticmethod
    def _run(connection: Connection, statement: _Upsert, params: list[tuple[Any, ...]]) -> None:
        if statement.many is not None and len(params) >= statement.rows:
            # as many full statements as the rows fill, each one flat tuple; the rest
            # (fewer than ``rows``) go one row a statement below. Rows keep their order,
            # so of two rows at one key the later one still wins.
            whole = len(params) - len(params) % statement.rows
            flat = list(itertools.chain.from_iterable(params[:whole]))
            width = statement.rows * len(params[0])
            chunks = [tuple(flat[i : i + width]) for i in range(0, len(flat), width)]
            connection.exec_driver_sql(statement.many, chunks)
            params = params[whole:]
        if not params:
            return
        sql, keys = statement.one
        if keys is None:
            connection.exec_driver_sql(sql, params)
        else:
            connection.exec_driver_sql(sql, [dict(zip(keys, p, strict=True)) for p in params])

    def execute_samples(
        self, connection: Connection, rows: Sequence[Row], ids: Mapping[str, int]
    ) -> None:
        """Upsert raw rows (not empty), grouped by tag so consecutive inserts land on the
        same B-tree leaf (twice the rate on SQLite).

        Within a tag the rows stay in the order received, which is time order unless a
        clock stepped back (then only locality suffers): sorting on the time too costs
        twice as much for nothing. The sort is stable and statements run in row order, so
        of two rows at one (tag, t) the last received wins.

        The rows go as columns (zip, map, slices: loops in C, not per row in Python). On
        SQLite a statement's rows that are all GOOD, without text or detail (nearly every
        row) bind three parameters a row instead of six: a fifth less time in SQLite."""
        flatten = itertools.chain.from_iterable
        ordered = sorted(rows, key=_BY_TAG)
        tags, times, values, texts, qualities, details = zip(*ordered, strict=True)
        columns = (tuple(map(ids.__getitem__, tags)), times, values, texts, qualities, details)
        size = self._samples.rows
        whole = len(ordered) - len(ordered) % size if self._samples.many is not None else 0
        kinds = [
            self._plain_samples is not None
            and texts[start : start + size].count(None) == size
            and details[start : start + size].count(None) == size
            and qualities[start : start + size].count(GOOD) == size
            for start in range(0, whole, size)
        ]
        start = 0
        for plain, run in itertools.groupby(kinds):  # runs of one kind, in row order
            end = start + size * sum(1 for _ in run)
            sql = self._plain_samples if plain else self._samples.many
            bound = columns[:3] if plain else columns
            assert sql is not None
            chunks = [
                tuple(flatten(zip(*(column[i : i + size] for column in bound), strict=True)))
                for i in range(start, end, size)
            ]
            connection.exec_driver_sql(sql, chunks)
            start = end
        if whole < len(ordered):
            rest = list(zip(*(c[whole:] for c in columns), strict=True))
            self._run(connection, self._samples, rest)

    def execute_minutes(
        self, connection: Connection, minutes: Sequence[tuple[str, Sequence[Any]]],
        ids: Mapping[str, int],
    ) -> None:
        """Upsert roll-ups (a tag's name and its Minute each, not empty), in order.

        On SQLite a statement's rows that each hold one numeric sample go through the
        five-parameter form, built as columns (map, zip, slices: loops in C) as the
        samples are; any other statement's rows are ``(tag_id, *Minute)``."""
        tags, accumulated = zip(*minutes, strict=True)
        tag_ids = tuple(map(ids.__getitem__, tags))
        size = SQLITE_ROWS_PER_STATEMENT
        whole = len(minutes) - len(minutes) % size if self._single_minutes is not None else 0
        counts = tuple(map(_COUNT, accumulated))
        kinds = [counts[start : start + size].count(1) == size for start in range(0, whole, size)]
        columns = (tag_ids, *(tuple(map(_COLUMN[i], accumulated)) for i in _SINGLE_MINUTE))
        flatten = itertools.chain.from_iterable
        start = 0
        for single, run in itertools.groupby(kinds):  # runs of one kind, in row order
            end = start + size * sum(1 for _ in run)
            if single:
                assert self._single_minutes is not None
                chunks = [
                    tuple(flatten(zip(*(column[i : i + size] for column in columns), strict=True)))
                    for i in range(start, end, size)
                ]
                connection.exec_driver_sql(self._single_minutes, chunks)
            else:
                self._run(connection, self._minutes, _params(tag_ids, accumulated, start, end))
            start = end
        self._run(connection, self._minutes, _params(tag_ids, accumulated, whole, len(minutes)))

    def execute_tags(self, connection: Connection, params: list[tuple[Any, ...]]) -> None:
        self._run(connection, self._tags, params)


# of a Minute: the count; the minute, min (the value when it counts one sample), first_t
# (its time) and quality, which (after the tag's id) the five-parameter upsert binds
_COUNT = operator.itemgetter(4)
_COLUMN = [operator.itemgetter(i) for i in range(10)]
_SINGLE_MINUTE = (0, 1, 7, 9)
_SINGLE_MINUTE_WIDTH = 5


def _params(
    tag_ids: Sequence[int], minutes: Sequence[Sequence[Any]], start: int, end: int
) -> list[tuple[Any, ...]]:
    """The roll-up upsert's parameters of minutes[start:end]."""
    return [(tag_id, *m) for tag_id, m in zip(tag_ids[start:end], minutes[start:end], strict=True)]


def _merge_minutes(new: Any) -> dict[str, Any]:
    """ON CONFLICT: merge the stored roll-up with the one being inserted (``new``)."""
    old = historian_minutes.c
    return {
        "min": case((old.min.is_(None), new.min), (new.min < old.min, new.min), else_=old.min),
        "max": case((old.max.is_(None), new.max), (new.max > old.max, new.max), else_=old.max),
        "sum": old.sum + new.sum,
        "count": old.count + new.count,
        "first": case(
            (old.first_t.is_(None), new.first), (new.first_t < old.first_t, new.first),
            else_=old.first,
        ),
        "first_t": case(
            (old.first_t.is_(None), new.first_t), (new.first_t < old.first_t, new.first_t),
            else_=old.first_t,
        ),
        "last": case(
            (old.last_t.is_(None), new.last), (new.last_t >= old.last_t, new.last),
            else_=old.last,
        ),
        "last_t": case(
            (old.last_t.is_(None), new.last_t), (new.last_t >= old.last_t, new.last_t),
            else_=old.last_t,
        ),
        "quality": case((new.quality > old.quality, new.quality), else_=old.quality),
    }
