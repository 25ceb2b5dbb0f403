"""The trend: many pens on one time axis, live or over any range of history.

The state (pens and their data, live or history, paused, span, range) is a
hmi.core.trend_model.TrendModel the view takes; the toolbar and tools change the model
and the view redraws from what it says changed. The view is a shell that attaches small
tools to one canvas (hmi.gui.trend_*): the pen list (legend), the cursor and its
readout, the marker layer, quality strips, the history filler, trend sets and export.
What is drawn is decimated to the plot's pixel columns (hmi.core.decimate), so a curve
never holds more than about two points per pixel however long the range.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from hmi.core.history import Buckets, HistoryReader
from hmi.core.samples import Sample
from hmi.core.shifts import last_completed_shift
from hmi.core.site import Tag
from hmi.core.trend_model import (
    MAX_SPAN,
    MIN_SPAN,
    RING_CAPACITY,
    PenState,
    TrendChange,
    TrendMode,
    TrendModel,
)
from hmi.gui.feed import Subscription, TagFeed
from hmi.gui.formatting import format_datetime
from hmi.gui.trend_canvas import TrendCanvas
from hmi.gui.trend_cursor import CursorReadout, CursorTool
from hmi.gui.trend_export import export_csv, export_png
from hmi.gui.trend_fill import DEBOUNCE_MS, FillRequest, HistoryFiller
from hmi.gui.trend_frame import Frame
from hmi.gui.trend_markers import MarkerLayer
from hmi.gui.trend_pens import PenPanel, PenSet, TrendPen
from hmi.gui.trend_picker import TagPickerDialog
from hmi.gui.trend_quality import QualityLayer
from hmi.gui.trend_range import RangeDialog
from hmi.gui.trend_sets import PenSpec, TrendSet, TrendSetsDialog, TrendSetStore
from hmi.gui.trend_toolbar import TrendToolbar, window_text

log = logging.getLogger(__name__)

MIN_WINDOW, MAX_WINDOW = MIN_SPAN, MAX_SPAN
HISTORY_MARGIN = 0.5  # fetch this fraction of the view either side, so a pan has data
LIVE_DATA_REDRAW_S = 1.0  # new data shows within this even when the view moves slower
FRAME_SLICE_S = 0.004  # a redraw holds the GUI loop about this long at a time


__all__ = ["Frame", "TrendMode", "TrendModel", "TrendView"]


class TrendView(QWidget):
    """Pens beside a plot, drawing a TrendModel. Given the screens' ``feed`` it takes its
    pens' samples from it (and follows the pens as they change); else ``add_samples``
    + ``refresh`` feed it at display rate. Give it a model (``TrendView(model,
    all_tags=...)``), or tags and a window and it makes its own."""

    def __init__(
        self,
        tags: Sequence[Tag] | TrendModel,
        window: float = 300.0,
        clock: Callable[[], float] = time.time,
        parent: QWidget | None = None,
        *,
        all_tags: Sequence[Tag] = (),
        history: HistoryReader | None = None,
        shift_starts: Sequence[dt.time] = (),
        trend_sets: Path | None = None,
        export_dir: Path | None = None,
        ring_capacity: int = RING_CAPACITY,
        debounce_ms: int = DEBOUNCE_MS,
        feed: TagFeed | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trendView")
        if isinstance(tags, TrendModel):
            self.model = tags
            self.model.known.update((tag.name, tag) for tag in all_tags)
        else:
            self.model = TrendModel(tags, window, all_tags=all_tags,
                                    ring_capacity=ring_capacity)
        self._clock = clock
        self._all_tags = self.model.known
        self._reader = history
        self._shift_starts = tuple(shift_starts)
        self._export_dir = export_dir or Path.home()
        self._drawn_at = -math.inf  # the view's end time at the last redraw
        self._drawn_clock = -math.inf  # the clock when the last live redraw began
        self._shown_range = (math.nan, math.nan)  # the range of the frame on show
        self._scrolling = False
        self.redraws = 0
        self._error = ""
        self._tasks: set[asyncio.Task[object]] = set()
        self._feed = feed
        self._subscription: Subscription | None = None

        self.canvas = TrendCanvas()
        self.pen_set = PenSet(self.canvas)
        self.panel = PenPanel()
        self.readout = CursorReadout()
        self.cursor_tool = CursorTool(self.canvas, self.readout, self._pen_list, clock)
        self.markers = MarkerLayer(self.canvas)
        self.quality = QualityLayer(self.canvas)
        self.toolbar = TrendToolbar()
        self.trend_sets = TrendSetStore(trend_sets) if trend_sets is not None else None
        self.filler = (HistoryFiller(history, self._apply_history, debounce_ms, self)
                       if history is not None else None)
        self._frame: Frame | None = None  # a redraw being made, slice by slice
        self._frame_again = False  # the range moved while it was: another one after
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(0)
        self._frame_timer.timeout.connect(self._continue_frame)
        self._build_layout()
        self._connect()
        self.toolbar.set_windows(self.span)
        self._leave_model = self.model.subscribe(self._on_model_changed)
        self._pens_changed()
        self._on_model_changed(TrendChange.MODE | TrendChange.RANGE | TrendChange.NOW)

    # -- construction ---------------------------------------------------------------------

    def _build_layout(self) -> None:
        side = QSplitter(Qt.Orientation.Vertical)
        side.setObjectName("trendSide")
        side.addWidget(self.panel)
        side.addWidget(self.readout)
        side.setChildrenCollapsible(False)
        self.body = QSplitter(Qt.Orientation.Horizontal)
        self.body.setObjectName("trendBody")
        self.body.addWidget(self.canvas)
        self.body.addWidget(side)
        self.body.setStretchFactor(0, 1)
        self.body.setStretchFactor(1, 0)
        self.body.setSizes([1200, 400])
        self.body.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.body, 1)
        self.toolbar.last_shift.setEnabled(bool(self._shift_starts))
        self.toolbar.sets.setEnabled(self.trend_sets is not None)

    def _connect(self) -> None:
        bar = self.toolbar
        bar.live.clicked.connect(lambda _checked: self.go_live())
        bar.pause.clicked.connect(self._on_pause_clicked)
        bar.window_combo.currentIndexChanged.connect(self._on_window_chosen)
        bar.earlier.clicked.connect(lambda: self.page(-1))
        bar.later.clicked.connect(lambda: self.page(+1))
        bar.range.clicked.connect(self.open_range_dialog)
        bar.last_shift.clicked.connect(self.show_last_shift)
        bar.cursor_button.toggled.connect(self.cursor_tool.set_enabled)
        bar.sets.clicked.connect(self.open_trend_sets)
        bar.csv.clicked.connect(self._on_csv_clicked)
        bar.png.clicked.connect(self._on_png_clicked)
        self.panel.visibilityChanged.connect(self.set_pen_visible)
        self.panel.ownAxisChanged.connect(self.set_own_axis)
        self.panel.removeRequested.connect(self.remove_pen)
        self.panel.pickRequested.connect(self.open_picker)
        self.canvas.view.sigXRangeChanged.connect(self._on_x_range_changed)
        self.canvas.view.sigRangeChangedManually.connect(self._on_manual_range)
        self.canvas.view.sigResized.connect(self._on_x_range_changed)  # columns changed
        if self.filler is not None:
            self.filler.failed.connect(self._on_fill_failed)
            self.filler.busyChanged.connect(lambda _busy: self._show_status())

    # -- the model ----------------------------------------------------------------------------

    @property
    def mode(self) -> TrendMode:
        return self.model.mode

    @property
    def paused(self) -> bool:
        return self.model.paused

    @property
    def span(self) -> float:
        return self.model.span

    def _on_model_changed(self, change: TrendChange) -> None:
        """Show what the model says changed."""
        model = self.model
        if change & TrendChange.PENS:
            self._pens_changed()
        if change & TrendChange.SPAN:
            self.toolbar.set_windows(model.span)
        if model.following:
            if change & TrendChange.NOW:
                self.refresh(force=True)
                self._ensure_history(immediately=True)
        elif model.range is not None and change & (TrendChange.RANGE | TrendChange.MODE):
            moved = self.canvas.x_range() != model.range  # else the canvas told the model
            if moved:
                self.canvas.set_x_range(*model.range)
            if model.mode is TrendMode.HISTORY and (moved or change & TrendChange.MODE):
                self._ensure_history(immediately=True)
                self.redraw()
        if change & ~TrendChange.RANGE or not model.following:
            self._show_status()

    # -- pens -------------------------------------------------------------------------------

    @property
    def pens(self) -> dict[str, TrendPen]:
        return self.pen_set.pens

    def _pen_list(self) -> list[TrendPen]:
        return list(self.pen_set.pens.values())

    def _pens_changed(self) -> None:
        self._follow_feed()
        self.pen_set.sync(self.model.pens.values())
        self.pen_set.regroup()
        self.panel.show_pens(self._pen_list())
        self._ensure_history(immediately=True)
        self.redraw()

    def _follow_feed(self) -> None:
        """Take the pens' tags, and only those, from the feed (a pen added later gets
        its tag's latest sample at once)."""
        if self._feed is None:
            return
        tags = tuple(self.model.tags())
        old = self._subscription
        if old is not None and old.tags == tags:
            return
        # the new one first: a pen kept stays subscribed, with nothing lost or repeated
        self._subscription = self._feed.subscribe(tags, self._on_feed, name="trend")
        if old is not None:
            old.close()

    def _on_feed(self, samples: list[Sample]) -> None:
        self.add_samples(samples)
        self.refresh()

    def add_pen(self, name: str) -> TrendPen:
        self.model.add_pen(name)
        return self.pens[name]

    def remove_pen(self, name: str) -> None:
        self.model.remove_pen(name)

    def set_pens(self, names: Iterable[str]) -> None:
        """Exactly these pens, in this order; pens that stay keep their live data."""
        self.model.set_pens(names)

    def set_pen_visible(self, name: str, visible: bool) -> None:
        self.model.set_visible(name, visible)

    def set_own_axis(self, name: str, own: bool) -> None:
        self.model.set_own_axis(name, own)

    def open_picker(self) -> TagPickerDialog:
        dialog = TagPickerDialog(list(self._all_tags.values()), self.pens, self)
        dialog.chosen.connect(self.set_pens)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    # -- data -------------------------------------------------------------------------------

    def add_samples(self, samples: Sequence[Sample]) -> None:
        """Into the model's pens (shown at the next ``refresh``)."""
        self.model.add_samples(samples)

    def refresh(self, force: bool = False) -> None:
        """Once per display tick: scroll the live view to now and redraw, but only when
        the screen would change: the view has moved a pixel column, or new data arrived
        and the last redraw is LIVE_DATA_REDRAW_S old (a 24 h window moves one pixel in
        45 s; repainting it at 10 Hz would cost the loop for nothing). Paused, the view
        stays still while the rings keep filling. The redraw is made in slices between
        other events (see ``_start_frame``); the view scrolls when it is ready.

        The live view moves by whole pixel columns (its end is now rounded up to the
        column grid, as the pens' columns are: hmi.core.trend_columns): between two
        moves the plot's transform stays put, so a redraw with new data repaints only
        where the curves changed, at the right edge, not the whole plot and its axes."""
        if self.model.following:
            now = self._clock()
            column = self.span / self.canvas.columns()
            end = math.ceil(now / column) * column
            stale = (self.model.new_data_since < math.inf and
                     now - self._drawn_clock >= LIVE_DATA_REDRAW_S)
            if force or end != self._drawn_at or stale or now < self._drawn_clock:
                if force:  # the operator asked (Live, a window): move the view at once
                    self._scroll_to(end - self.span, end)
                if force or self._frame is None:  # else the frame being made shows first
                    self._drawn_clock = now
                    self._start_frame(end - self.span, end, scroll=True)
                return
        elif self.model.new_data_since <= self.canvas.x_range()[1]:
            self._request_frame()
            return
        self.cursor_tool.refresh()

    def redraw(self) -> None:
        """Decimate every visible pen to the plot's columns and show it, now."""
        t0, t1 = self.canvas.x_range()
        if t1 > t0:
            self._start_frame(t0, t1, scroll=False)
            self.finish_drawing()

    @property
    def drawing(self) -> bool:
        """A redraw is being made (it shows when ready; ``finish_drawing`` hurries it)."""
        return self._frame is not None

    def finish_drawing(self) -> None:
        """Make the pending redraw in one go and show it."""
        frame = self._frame
        if frame is not None:
            frame.step(math.inf)
            self._show_frame(frame)

    def _request_frame(self) -> None:
        """Redraw the current range soon; during a drag, one frame at a time, each for
        the latest range (restarting on every mouse move would never show one)."""
        if self._frame is not None and not self._frame.scroll:
            self._frame_again = True
            return
        t0, t1 = self.canvas.x_range()
        if t1 > t0:
            # The old curves at the new range would be painted now and then again
            # with the new frame: one paint, with the right data, costs half.
            self.canvas.setUpdatesEnabled(False)
            self._start_frame(t0, t1, scroll=False)

    def _start_frame(self, t0: float, t1: float, scroll: bool) -> None:
        """Begin a redraw of [t0, t1]: every visible pen decimated and its path built
        in slices of about FRAME_SLICE_S, so the GUI loop goes on serving devices and
        input in between; then everything is shown at once (``_show_frame``)."""
        visible = [pen for pen in self._pen_list() if pen.visible]
        self._frame = Frame(t0, t1, self.canvas.columns(), visible, scroll)
        self._frame_again = False
        self.model.data_drawn()  # samples from now on go into the next frame
        self._frame_timer.start()

    def _continue_frame(self) -> None:
        frame = self._frame
        if frame is None:
            return
        if frame.step(FRAME_SLICE_S):
            self._show_frame(frame)
        else:
            self._frame_timer.start()

    def _show_frame(self, frame: Frame) -> None:
        self._frame_timer.stop()
        self._frame = None
        self.canvas.setUpdatesEnabled(True)
        moved = (frame.t0, frame.t1) != self._shown_range  # the whole plot repaints then
        if frame.scroll and self.model.following:
            self._scroll_to(frame.t0, frame.t1)
        elif frame.scroll:  # paused or left live mode while it was being made
            frame = Frame(*self.canvas.x_range(), self.canvas.columns(),
                          [p for p in self._pen_list() if p.visible], scroll=False)
            frame.step(math.inf)
        pens = self._pen_list()
        for pen in pens:
            shown = frame.curves.get(pen.name)
            if shown is not None and pen.visible:
                pen.curve.show_data(shown, whole=moved)
        self.quality.update(pens, frame.levels, frame.t0, frame.t1)
        self._shown_range = (frame.t0, frame.t1)
        # Settle the Y autorange now (pyqtgraph does it when the paint begins, and the
        # axes it moves then ask for a second paint of the whole plot).
        self.canvas.scene().prepareForPaint()
        self._drawn_at = frame.t1
        self.redraws += 1
        self.cursor_tool.refresh()
        if self._frame_again:
            self._frame_again = False
            self._request_frame()

    def _scroll_to(self, t0: float, t1: float) -> None:
        """Move a live view (its frame is drawn for this range already, or soon)."""
        self._scrolling = True
        try:
            self.canvas.set_x_range(t0, t1)
        finally:
            self._scrolling = False

    def _on_x_range_changed(self) -> None:
        if not self._scrolling:  # a live frame sets its own range when it shows
            self._request_frame()
        self.model.set_range(*self.canvas.x_range())
        self._ensure_history()

    def _on_manual_range(self) -> None:
        """A pan or zoom by hand holds a live view still (it would jump back otherwise)."""
        self.model.set_paused(True)

    # -- history ----------------------------------------------------------------------------

    def _covered(self, have: FillRequest | None, t0: float, t1: float, width: float) -> bool:
        if have is None or not set(self.pens) <= set(have.tags):
            return False
        if have.start > t0 + width or not 0.5 * width <= have.bucket_width <= 1.25 * width:
            return False
        if have.end >= min(t1, self._clock()) - width:
            return True
        # The rings hold every sample since the fill (they join where the history ends)
        # unless one has wrapped since and lost the samples just after that end.
        return not any(pen.series.wrapped_since(have.end) for pen in self.pens.values())

    def _ensure_history(self, immediately: bool = False) -> None:
        if self.filler is None or not self.pens or not self.isVisible():
            return  # hidden, the plot has no width to ask for; showEvent asks
        t0, t1 = self.canvas.x_range()
        if not t1 > t0:
            return
        columns = self.canvas.columns()
        width = (t1 - t0) / columns
        if self._covered(self.filler.pending, t0, t1, width) or \
                self._covered(self.filler.covered, t0, t1, width):
            return
        now = self._clock()
        margin = HISTORY_MARGIN * (t1 - t0)
        start, end = t0 - margin, min(t1 + margin, now)
        if not end > start:
            return
        count = max(1, round((end - start) / width))
        scrolling = self.model.following
        self.filler.request(list(self.pens), start, end, count,
                            immediately=immediately, restart=not scrolling)

    def _apply_history(self, request: FillRequest, found: dict[str, Buckets]) -> None:
        self._error = ""
        for pen in self.pens.values():
            pen.series.set_history(found.get(pen.name))
        self.redraw()
        self._show_status()

    def _on_fill_failed(self, message: str) -> None:
        self._error = message
        self._show_status()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's API)
        super().showEvent(event)
        # after the layout has given the plot its width
        QTimer.singleShot(0, lambda: self._ensure_history(immediately=True))

    # -- modes ------------------------------------------------------------------------------

    def go_live(self, span: float | None = None) -> None:
        """Follow now over the last ``span`` seconds (default: the current window)."""
        self.model.go_live(span)

    def set_paused(self, paused: bool) -> None:
        self.model.set_paused(paused)

    def show_history(self, start: float, end: float) -> None:
        """A fixed range, filled from the historian."""
        self.model.show_history(start, end)

    def last_shift(self) -> tuple[float, float]:
        now = dt.datetime.fromtimestamp(self._clock())
        start, end = last_completed_shift(now, self._shift_starts)
        return start.timestamp(), end.timestamp()

    def open_range_dialog(self) -> RangeDialog:
        """From/To pickers over the range in view; Show switches to history mode."""
        t0, t1 = self.canvas.x_range()
        dialog = RangeDialog(t0, t1, self._clock(), self)
        dialog.chosen.connect(self.show_history)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never exec() under qasync (STYLE.md)
        return dialog

    def show_last_shift(self) -> None:
        self.show_history(*self.last_shift())

    def page(self, direction: int) -> None:
        """One screen earlier (-1) or later (+1); paging a live view pauses it."""
        self.model.set_range(*self.canvas.x_range())
        self.model.page(direction)

    def _on_pause_clicked(self, checked: bool) -> None:
        if self.mode is TrendMode.HISTORY:
            self.go_live()
        self.set_paused(checked)

    def _on_window_chosen(self, index: int) -> None:
        span = self.toolbar.window_combo.itemData(index)
        if span is not None:
            self.go_live(float(span))

    def _show_status(self) -> None:
        bar = self.toolbar
        bar.live.setChecked(self.mode is TrendMode.LIVE and not self.paused)
        bar.pause.setChecked(self.mode is TrendMode.LIVE and self.paused)
        if self.mode is TrendMode.LIVE:
            text = f"LIVE · last {window_text(self.span)}"
            if self.paused:
                text = "PAUSED · data still arriving · press Live to follow"
        else:
            t0, t1 = self.canvas.x_range()
            text = f"HISTORY · {format_datetime(t0)} → {format_datetime(t1)}"
        if self.filler is not None and self.filler.busy:
            text += " · loading history…"
        if self._error:
            bar.set_status(f"{text} · {self._error}", abnormal=True)
        else:
            bar.set_status(text)

    # -- trend sets and export ----------------------------------------------------------------

    def current_trend_set(self, name: str) -> TrendSet:
        pens = tuple(PenSpec(p.name, p.own_axis, p.visible) for p in self.pens.values())
        return TrendSet(name, pens, self.span)

    def apply_trend_set(self, trend_set: TrendSet) -> list[str]:
        """Show a saved set; returns the tags it names that this site does not have."""
        missing = self.model.apply_pens([PenState(p.tag, p.own_axis, p.visible)
                                         for p in trend_set.pens])
        self.go_live(trend_set.window)
        return missing

    def open_trend_sets(self) -> TrendSetsDialog | None:
        if self.trend_sets is None:
            return None
        store = self.trend_sets
        dialog = TrendSetsDialog(store, self)
        dialog.loadRequested.connect(self.apply_trend_set)
        dialog.saveRequested.connect(lambda name: store.save(self.current_trend_set(name)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def export_png(self, path: Path) -> Path:
        """The plot with its pen list and readout, as on screen."""
        return export_png(self.body, path)

    async def export_csv(self, path: Path) -> int:
        """The visible range at full resolution; returns the rows written."""
        t0, t1 = self.canvas.x_range()
        visible = [pen for pen in self.pens.values() if pen.visible]
        return await export_csv(path, visible, t0, min(t1, self._clock()), self._reader)

    def _ask_path(self, title: str, suffix: str, done: Callable[[Path], object]) -> None:
        stamp = time.strftime("%Y%m%d-%H%M", time.localtime(self._clock()))
        dialog = QFileDialog(self, title, str(self._export_dir / f"trend-{stamp}.{suffix}"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(suffix)
        dialog.fileSelected.connect(lambda chosen: done(Path(chosen)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never exec() under qasync (STYLE.md)

    def _on_png_clicked(self) -> None:
        self._ask_path("Save trend picture", "png", self.export_png)

    def _on_csv_clicked(self) -> None:
        def start(path: Path) -> None:
            task = asyncio.ensure_future(self._export_csv_reporting(path))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._ask_path("Export visible range", "csv", start)

    async def _export_csv_reporting(self, path: Path) -> None:
        self.toolbar.set_status(f"Exporting to {path.name}…")
        try:
            rows = await self.export_csv(path)
        except Exception as exc:  # the operator needs to hear why; the app goes on
            log.exception("CSV export failed")
            self.toolbar.set_status(f"Export failed: {exc}", abnormal=True)
            return
        self.toolbar.set_status(f"Exported {rows} rows to {path}")

    def close_view(self) -> None:
        """Stop history requests in flight and stop following the model (the window is
        closing; a model given to the view may outlive it)."""
        self._leave_model()
        if self._subscription is not None:
            self._subscription.close()
        self._frame_timer.stop()
        self._frame = None
        self.canvas.setUpdatesEnabled(True)
        if self.filler is not None:
            self.filler.cancel()
        for task in list(self._tasks):
            task.cancel()
