"""Request, notification and byte counts of one asyncua client, fed into RequestStats.

asyncua 2.x times every request through ``UaClient.observer`` (``asyncua.observer``);
bytes are counted by wrapping the socket protocol asyncua creates per connection.
Publish requests wait for the server's next notification by design, so they are
counted but kept out of the latency percentiles.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asyncua.client.client import Client
from asyncua.observer import Observer

from hmi.core.diagnostics import RequestStats

_log = logging.getLogger(__name__)

PUBLISH = "PublishRequest"


class StatsObserver(Observer):
    """Feeds one worker's RequestStats from asyncua's request and notification hooks."""

    def __init__(self, stats: RequestStats) -> None:
        self.stats = stats
        self.publish_responses = 0
        self.notifications = 0  # data-change notifications received (items, not messages)

    def on_request(self, request_type: str, duration: float, error: BaseException | None) -> None:
        if isinstance(error, asyncio.CancelledError):
            return  # our own teardown, not the server's failure
        if request_type == PUBLISH:
            # RequestStats has no latency-free record(): count it as a request directly
            self.stats.requests += 1
            if error is None:
                self.publish_responses += 1
            return
        self.stats.record(duration, ok=error is None)

    def on_notification(self, subscription_id: int | None, event_count: int) -> None:
        self.notifications += event_count


class _CountingTransport:
    """Delegates to the real transport, counting what asyncua writes."""

    def __init__(self, transport: Any, stats: RequestStats) -> None:
        self._transport = transport
        self._stats = stats

    def write(self, data: bytes) -> None:
        self._stats.add_bytes(sent=len(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def instrument(client: Client, stats: RequestStats, observer: StatsObserver) -> bool:
    """Hook ``observer`` and byte counting into ``client``; False if bytes cannot be counted."""
    client.uaclient.observer = observer
    uaclient: Any = client.uaclient
    make_protocol = getattr(uaclient, "_make_protocol", None)
    if make_protocol is None:  # asyncua internals moved: requests are still counted
        _log.debug("asyncua has no UaClient._make_protocol; bytes stay 0")
        return False

    def make_counting_protocol() -> Any:
        protocol = make_protocol()
        received = protocol.data_received
        made = protocol.connection_made

        def data_received(data: bytes) -> None:
            stats.add_bytes(received=len(data))
            received(data)

        def connection_made(transport: Any) -> None:
            made(_CountingTransport(transport, stats))

        protocol.data_received = data_received
        protocol.connection_made = connection_made
        return protocol

    uaclient._make_protocol = make_counting_protocol
    return True
