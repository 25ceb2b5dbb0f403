"""The trend's state without a widget: its pens (with their data), live or history,
paused, the live span and the range on screen.

hmi.gui.trend.TrendView takes a TrendModel and draws it (as napari's ``QtDims(dims)``
takes its Dims); the view's toolbar and tools change the model, and the view reacts to
what the model says changed. So every rule of the trend's state (pausing keeps data
arriving, a page back pauses a live view, history is a fixed range) is plain Python,
testable without a widget, and a screen can share one model between two views.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hmi.core.samples import Sample
from hmi.core.site import Tag
from hmi.core.trend_data import PenRing, PenSeries

log = logging.getLogger(__name__)

MIN_SPAN, MAX_SPAN = 60.0, 24 * 3600.0  # the live windows a trend offers
RING_CAPACITY = 20_000  # live samples a pen keeps (the historian has the rest)


class TrendMode(enum.Enum):
    LIVE = "live"  # the view follows now (unless paused)
    HISTORY = "history"  # a fixed range


class TrendChange(enum.Flag):
    """What a change touched; a listener gets them combined, once per change."""

    MODE = enum.auto()  # live <-> history
    PAUSED = enum.auto()
    SPAN = enum.auto()  # the live window's length
    RANGE = enum.auto()  # the range on screen (history, paused, or a live scroll)
    PENS = enum.auto()  # pens added, removed, reordered, shown, hidden, own axis
    NOW = enum.auto()  # the view must jump to now (go live, resume): no waiting a tick


Listener = Callable[[TrendChange], None]


def clamp_span(span: float) -> float:
    return min(max(float(span), MIN_SPAN), MAX_SPAN)


@dataclass(frozen=True, slots=True)
class PenState:
    """How a pen is shown (what a trend set saves)."""

    tag: str
    own_axis: bool = False
    visible: bool = True


class ModelPen:
    """One tag on the trend: its data and how it is shown."""

    def __init__(self, tag: Tag, capacity: int = RING_CAPACITY) -> None:
        self.tag = tag
        self.series = PenSeries(capacity)
        self.visible = True
        self.own_axis = False

    @property
    def name(self) -> str:
        return self.tag.name

    @property
    def ring(self) -> PenRing:
        return self.series.ring

    @property
    def axis_key(self) -> str:
        """Pens with the same units share an axis; a pen with its own axis is alone."""
        if self.own_axis:
            return f"pen:{self.name}"
        return f"units:{self.tag.units}"

    def axis_label(self) -> str:
        if self.own_axis:
            return f"{self.name} [{self.tag.units}]" if self.tag.units else self.name
        return self.tag.units or "(no units)"

    def state(self) -> PenState:
        return PenState(self.name, self.own_axis, self.visible)


class TrendModel:
    """Pens in plot order over the tags this site has, live or a fixed range.

    ``range`` is the time range on screen: in live mode, not paused, the view reports
    each scroll with ``set_range``; paused or in history it is what the view shows.
    Samples for the pens go into their rings in every mode (pausing only holds the
    view). Listeners get a TrendChange after each change, once, with all it touched.
    """

    def __init__(self, pens: Iterable[Tag] = (), span: float = 300.0, *,
                 all_tags: Iterable[Tag] = (), ring_capacity: int = RING_CAPACITY) -> None:
        pens = list(pens)
        self.known: dict[str, Tag] = {tag.name: tag for tag in [*pens, *all_tags]}
        self.ring_capacity = ring_capacity
        self.mode = TrendMode.LIVE
        self.paused = False
        self.span = clamp_span(span)
        self.range: tuple[float, float] | None = None
        self.new_data_since = math.inf  # oldest time of samples not drawn yet
        self._pens: dict[str, ModelPen] = {}
        self._listeners: list[Listener] = []
        for tag in pens:
            self._pens.setdefault(tag.name, ModelPen(tag, ring_capacity))

    # -- listeners ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change; returns what unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, change: TrendChange) -> None:
        if change:
            for listener in list(self._listeners):
                listener(change)

    # -- state -------------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        """The view follows now: live and not paused."""
        return self.mode is TrendMode.LIVE and not self.paused

    def go_live(self, span: float | None = None) -> None:
        """Follow now over the last ``span`` seconds (default: the current span)."""
        change = TrendChange.NOW
        if span is not None and clamp_span(span) != self.span:
            self.span = clamp_span(span)
            change |= TrendChange.SPAN
        if self.mode is not TrendMode.LIVE:
            self.mode = TrendMode.LIVE
            change |= TrendChange.MODE
        if self.paused:
            self.paused = False
            change |= TrendChange.PAUSED
        self._emit(change)

    def set_paused(self, paused: bool) -> None:
        """Hold a live view still (data keeps arriving) or let it follow again; a
        history view has nothing to pause."""
        if self.mode is not TrendMode.LIVE or paused == self.paused:
            return
        self.paused = paused
        self._emit(TrendChange.PAUSED if paused else TrendChange.PAUSED | TrendChange.NOW)

    def show_history(self, start: float, end: float) -> None:
        """A fixed range of history."""
        if not end > start:
            raise ValueError(f"empty or reversed range [{start}, {end}]")
        change = TrendChange.RANGE  # said even when unchanged: the view shows it again
        if self.mode is not TrendMode.HISTORY:
            change |= TrendChange.MODE
        if self.paused:
            change |= TrendChange.PAUSED
        self.mode, self.paused, self.range = TrendMode.HISTORY, False, (start, end)
        self._emit(change)

    def set_range(self, start: float, end: float) -> None:
        """The range now on screen (a live scroll, a pan or zoom by hand)."""
        if not end > start or self.range == (start, end):
            return
        self.range = (start, end)
        self._emit(TrendChange.RANGE)

    def page(self, direction: int) -> None:
        """One screen earlier (-1) or later (+1); paging a live view pauses it."""
        if self.range is None:
            return
        start, end = self.range
        step = direction * (end - start)
        change = TrendChange.RANGE
        if self.mode is TrendMode.LIVE and not self.paused:
            self.paused = True
            change |= TrendChange.PAUSED
        self.range = (start + step, end + step)
        self._emit(change)

    # -- pens ----------------------------------------------------------------------------------

    @property
    def pens(self) -> Mapping[str, ModelPen]:
        """The pens in plot order (change them through the model's methods)."""
        return self._pens

    def tags(self) -> list[str]:
        """The tags whose samples the trend needs (what it subscribes to)."""
        return list(self._pens)

    def add_pen(self, name: str) -> ModelPen:
        """Add the site's tag ``name`` (KeyError if the site has none); an existing pen
        is returned as it is."""
        pen = self._pens.get(name)
        if pen is None:
            pen = self._pens[name] = ModelPen(self.known[name], self.ring_capacity)
            self._emit(TrendChange.PENS)
        return pen

    def remove_pen(self, name: str) -> None:
        if self._pens.pop(name, None) is not None:
            self._emit(TrendChange.PENS)

    def set_pens(self, names: Iterable[str]) -> list[str]:
        """Exactly these pens, in this order (pens that stay keep their data, their
        visibility and axis); returns the names this site has no tag for."""
        return self.apply_pens([self._pens[n].state() if n in self._pens else PenState(n)
                                for n in names])

    def apply_pens(self, states: Sequence[PenState]) -> list[str]:
        """Exactly these pens, shown as ``states`` say (a trend set); returns the tags
        this site does not have (left out)."""
        missing = [s.tag for s in states if s.tag not in self.known]
        pens: dict[str, ModelPen] = {}
        for state in states:
            if state.tag in self.known and state.tag not in pens:
                pen = self._pens.get(state.tag) or ModelPen(self.known[state.tag],
                                                             self.ring_capacity)
                pen.visible, pen.own_axis = state.visible, state.own_axis
                pens[state.tag] = pen
        self._pens = pens
        self._emit(TrendChange.PENS)
        return missing

    def set_visible(self, name: str, visible: bool) -> None:
        pen = self._pens[name]
        if pen.visible != visible:
            pen.visible = visible
            self._emit(TrendChange.PENS)

    def set_own_axis(self, name: str, own: bool) -> None:
        pen = self._pens[name]
        if pen.own_axis != own:
            pen.own_axis = own
            self._emit(TrendChange.PENS)

    def visible_pens(self) -> list[ModelPen]:
        return [pen for pen in self._pens.values() if pen.visible]

    # -- data ----------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[Sample]) -> None:
        """Samples for the pens go into their rings (in every mode; paused too); others
        are ignored. No notification: the view looks at ``new_data_since`` once per
        display tick."""
        pens = self._pens
        since = self.new_data_since
        for sample in samples:
            pen = pens.get(sample.tag)
            if pen is not None:
                pen.series.add(sample)
                since = min(since, sample.source_time)
        self.new_data_since = since

    def data_drawn(self) -> None:
        """The view has taken every sample so far into a frame."""
        self.new_data_since = math.inf
