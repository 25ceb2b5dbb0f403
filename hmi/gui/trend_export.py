"""The export tool: the visible range to CSV (full resolution) and the plot to PNG.

The screen holds only min/max per pixel column, which is not data anyone should compute
with; CSV asks the historian again: its ``raw(tags, start, end)`` if it has one, else
``buckets`` with one bucket per second. Without a historian the live ring buffers are the
raw samples. The file is written on a worker thread so the GUI keeps running.
"""

from __future__ import annotations

import asyncio
import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtWidgets import QWidget

from hmi.core.history import Buckets, HistoryReader, Resolution, UnknownTagError
from hmi.core.trend_data import QUALITY_NAME
from hmi.gui.trend_pens import TrendPen

CSV_HEADER = ("time_utc", "posix_time", "tag", "units", "value", "min", "max", "quality")


@dataclass(frozen=True, slots=True)
class ExportSeries:
    """One tag's rows: raw samples (``raw``) or min/max buckets."""

    tag: str
    units: str
    times: npt.NDArray[np.float64]
    lows: npt.NDArray[np.float64]
    highs: npt.NDArray[np.float64]
    quality: npt.NDArray[np.int8]
    raw: bool


def export_png(widget: QWidget, path: Path) -> Path:
    """What is on screen, as the operator sees it."""
    pixmap = widget.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def _from_buckets(pen: TrendPen, buckets: Buckets, t0: float, t1: float) -> ExportSeries:
    keep = (buckets.times >= t0) & (buckets.times <= t1)
    return ExportSeries(pen.name, pen.tag.units, buckets.times[keep], buckets.mins[keep],
                        buckets.maxs[keep], buckets.quality[keep],
                        buckets.resolution is Resolution.RAW)


def _from_ring(pen: TrendPen, t0: float, t1: float) -> ExportSeries:
    times, values, quality = pen.ring.view()
    i = int(np.searchsorted(times, t0, side="left"))
    j = int(np.searchsorted(times, t1, side="right"))
    return ExportSeries(pen.name, pen.tag.units, times[i:j].copy(), values[i:j].copy(),
                        values[i:j].copy(), quality[i:j].copy(), True)


async def collect(pens: Sequence[TrendPen], t0: float, t1: float,
                  reader: HistoryReader | None) -> list[ExportSeries]:
    """Full-resolution data for the pens over [t0, t1]."""
    if reader is None:
        return [_from_ring(pen, t0, t1) for pen in pens]
    tags = [pen.name for pen in pens]
    raw = getattr(reader, "raw", None)

    async def ask(names: list[str]) -> dict[str, Any]:
        if callable(raw):  # the historian's stored samples (History.raw)
            return dict(await raw(names, t0, t1))
        return dict(await reader.buckets(names, t0, t1, max(1, math.ceil(t1 - t0))))

    try:
        found = await ask(tags)
    except UnknownTagError as exc:  # pens with no stored history export nothing
        known = [tag for tag in tags if tag not in exc.unknown]
        found = await ask(known) if known else {}
    if callable(raw):
        return [_from_raw(pen, found[pen.name]) for pen in pens if pen.name in found]
    return [_from_buckets(pen, found[pen.name], t0, t1) for pen in pens if pen.name in found]


def _from_raw(pen: TrendPen, series: Any) -> ExportSeries:
    """Stored samples (times, values, quality), or Buckets from a reader that gives them."""
    values = getattr(series, "values", None)
    if values is None:
        return _from_buckets(pen, series, -math.inf, math.inf)
    return ExportSeries(pen.name, pen.tag.units, series.times, values, values,
                        series.quality, True)


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def _rows(series: Sequence[ExportSeries]) -> Iterator[tuple[str, ...]]:
    for one in series:
        stamps = np.datetime_as_string((one.times * 1000).astype("datetime64[ms]"),
                                       unit="ms", timezone="UTC")
        for k in range(len(one.times)):
            low, high = float(one.lows[k]), float(one.highs[k])
            quality = QUALITY_NAME.get(int(one.quality[k]), "")
            value = _number(low) if one.raw or low == high else ""
            low_text = "" if one.raw else _number(low)
            high_text = "" if one.raw else _number(high)
            yield (str(stamps[k]), f"{one.times[k]:.3f}", one.tag, one.units,
                   value if quality != "BAD" else "", low_text, high_text, quality)


def write_csv(path: Path, series: Sequence[ExportSeries]) -> int:
    """Long format, one row per tag and time; returns the rows written."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        for row in _rows(series):
            writer.writerow(row)
            count += 1
    return count


async def export_csv(path: Path, pens: Sequence[TrendPen], t0: float, t1: float,
                     reader: HistoryReader | None) -> int:
    series = await collect(pens, t0, t1, reader)
    return await asyncio.to_thread(write_csv, path, series)
