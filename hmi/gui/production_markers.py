"""Production on the trend: each production event's period as a shaded span on the time
axis, labelled with its count and whether it is confirmed (grey-blue: not an alarm,
ISA-101). The events of the last ``LOOK_BACK`` when the trend opens; then again whenever
the production queue says events changed (a period closed, one confirmed)."""

from __future__ import annotations

import logging
import time

from hmi.core.events import EventState, ProductionEvent
from hmi.core.markers import MarkerKind, TrendMarker
from hmi.core.ports import ProductionQueue
from hmi.gui.coalesce import Coalesced
from hmi.gui.trend import TrendView

log = logging.getLogger(__name__)
LOOK_BACK = 24 * 3600.0


def marker_for(event: ProductionEvent) -> TrendMarker:
    state = "confirmed" if event.state is EventState.CONFIRMED else "to confirm"
    label = (f"{event.line + ': ' if event.line else ''}{event.good_count:,} {event.unit} "
             f"good, {event.reject_count:,} rejected ({state})")
    if not event.complete:
        label += " — counter offline part of the period"
    return TrendMarker(event.period_start, MarkerKind.PRODUCTION, label,
                       end=event.period_end, key=f"production:{event.event_id}")


class ProductionTrendMarkers:
    def __init__(self, trend: TrendView, production: ProductionQueue) -> None:
        self._trend = trend
        self._production = production
        self._shown: dict[str, TrendMarker] = {}  # what is on the trend, by key
        self.refresh = Coalesced(self._read)  # a burst of changes: one read
        self._remove = production.add_listener(self.refresh)
        self.refresh()

    async def _read(self) -> None:
        now = time.time()
        try:
            events = await self._production.between(now - LOOK_BACK, now + 1)
        except Exception as exc:  # the trend works without them
            log.warning("production markers not read: %s", exc)
            return
        for event in events:  # only what is new or changed is drawn again (a day of
            marker = marker_for(event)  # one-minute periods is 1,440 spans)
            if self._shown.get(marker.key) != marker:
                self._trend.markers.add_marker(marker)
                self._shown[marker.key] = marker

    def close(self) -> None:
        self._remove()
        self.refresh.cancel()
