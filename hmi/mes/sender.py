"""The outbox sender: posts pending MES transactions until each is answered, in the
order they were queued (the store hands them out oldest first, up to the first one not
due: one waiting for its retry holds those behind it).

A 2xx with a JSON body marks an item SENT; a 2xx with anything else (a proxy's HTML login
page, an empty body) is not a receipt: retried, and said. 401 and 403 hold sending with
the reason (the credential is wrong or was rotated): nothing is rejected, the items wait.
Another 4xx (but 408/429) marks the item REJECTED with the server's text: kept for the
shift lead, never retried by itself. Network errors, timeouts, 5xx, 408 and 429 are
retried with exponential backoff capped at ``MAX_BACKOFF``, or after the server's
``Retry-After`` when it gives one (capped at ``MAX_RETRY_AFTER``). Every request
carries ``Idempotency-Key: <outbox id>`` so a retry after a lost answer is not booked
twice. The API key goes in the ``X-API-Key`` header (the MES simulator's scheme) and
is never logged or stored. Listeners (``add_listener``) hear of every change a screen
shows: an item queued, sent, rejected or put back for a retry, a network problem that
begins or ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from hmi.core.listeners import Listeners
from hmi.core.outbox import OutboxItem
from hmi.core.site import MesLink
from hmi.mes.auth import AuthError, Credentials
from hmi.store.outbox import OutboxRepository

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # seconds
MAX_MESSAGE_CHARS = 2000  # of a server's answer kept with a rejected item
RETRYABLE_4XX = frozenset({408, 429})  # Request Timeout, Too Many Requests
CREDENTIALS_REFUSED = frozenset({401, 403})
MAX_RETRY_AFTER = 3600.0  # seconds: a server asking for more is still tried within the hour


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


def _receipt(content_type: str, body: str) -> str:
    """"" when ``body`` is a JSON object (a receipt); else what it is instead."""
    try:
        parsed = json.loads(body)
    except ValueError:
        kind = content_type.split(";", maxsplit=1)[0].strip() or "no content type"
        what = "an empty body" if not body.strip() else f"{kind}, not JSON"
        if "html" in kind:
            what += " (a proxy's or login page?)"
        return what
    return "" if isinstance(parsed, dict) else "JSON that is not an object"


def _network_reason(exc: BaseException) -> str:
    """A short reason a shift lead can act on; the full error goes to the log."""
    log.debug("MES request failed", exc_info=exc)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS certificate not trusted"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return cause.strerror or "no connection" if isinstance(cause, OSError) else "no connection"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the MES closed the connection"
    return type(exc).__name__


def backoff_delay(retry_interval: float, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failures: doubling, capped."""
    exponent = min(max(attempts - 1, 0), 16)
    return float(min(retry_interval * 2**exponent, MAX_BACKOFF))


_RENEWED = object()  # _post's answer: the token was refused and forgotten


class OutboxSender:
    """Sends due outbox items to ``link.url``; ``run()`` loops until cancelled."""

    def __init__(
        self,
        outbox: OutboxRepository,
        link: MesLink,
        api_key_provider: Callable[[], str],
        clock: Callable[[], float] = time.time,
        batch_size: int = 20,
        owner: str = "",
    ) -> None:
        """``owner``: who claims items in the store; the station's identity (the same
        after a restart, so a station killed mid-pass takes its claims straight back;
        the station lock keeps two processes of one station apart). Default: this
        process."""
        self._outbox = outbox
        self._link = link
        self._api_key_provider = api_key_provider
        self._auth = Credentials(link, api_key_provider, clock)
        self._listeners: Listeners[[]] = Listeners("outbox change")
        self._clock = clock
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self.last_error = ""  # the latest failure, for a status bar
        # who claims items in the store (two senders may share one: a second station)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` on the loop after every change to the outbox or to
        ``last_error``; returns the function that removes it."""
        return self._listeners.add(listener)

    def notify(self) -> None:
        """Something was queued (confirmed, corrected, sent again): send now rather than
        at the next interval, and tell the listeners the outbox grew. Loop only."""
        self._wake.set()
        self._changed()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                while True:
                    self._wake.clear()  # before the pass: a notify() during it is kept
                    try:
                        await self._send_due(session)
                    except Exception:  # the sender must outlive one bad pass
                        log.exception("MES outbox pass failed; retrying")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._link.retry_interval)
            finally:
                self._session = None

    async def send_due_once(self) -> int:
        """One pass over the due items; returns how many were answered 2xx."""
        if self._session is not None:
            return await self._send_due(self._session)
        async with aiohttp.ClientSession() as session:
            return await self._send_due(session)

    async def _send_due(self, session: aiohttp.ClientSession) -> int:
        # claimed for as long as posting them all may take (a crashed sender's claim
        # lapses; a sender sharing the store waits for it, never posts an item twice)
        lease = self._batch_size * (self._link.timeout + 1.0) + 5.0
        claimed_at = self._clock()
        items = await asyncio.to_thread(self._outbox.claim, self.owner, claimed_at, lease,
                                        self._batch_size)
        if not items:
            return 0
        lease_until = claimed_at + lease
        try:
            auth = await self._auth.headers(session)
        except AuthError as exc:
            await self._hold_for_secret(items, str(exc))
            return 0
        sent = 0
        # one item may take a token renewal and two posts, and a busy database: the
        # claims are extended before an item could outlast them (else another sender
        # could take one while it is posted)
        per_item = 3 * self._link.timeout + 6.0
        for index, item in enumerate(items):
            if self._clock() + 2 * per_item > lease_until:
                lease_until = self._clock() + lease
                rest = [waiting.id for waiting in items[index:]]
                kept = await asyncio.to_thread(self._outbox.extend_claims, self.owner, rest,
                                               lease_until)
                if kept != len(rest):
                    log.warning("MES outbox: %d claims lapsed and were taken by another "
                                "sender; this pass stops", len(rest) - kept)
                    return sent
            outcome = await self._post(session, item, auth)
            if outcome is _RENEWED:  # a 401 with a token: renewed once, then again
                try:
                    auth = await self._auth.headers(session)
                except AuthError as exc:
                    await self._hold_for_secret(items[index:], str(exc))
                    return sent
                outcome = await self._post(session, item, auth, renewed=True)
            self._changed()
            if outcome is None:
                # The MES is down or overloaded: do not spend a timeout on each of the
                # remaining items; they wait (no attempt counted) with the failed one.
                failed = await asyncio.to_thread(self._outbox.get, item.id)
                retry_at = failed.next_attempt_at if failed else self._clock()
                for waiting in items[index + 1 :]:
                    await asyncio.to_thread(
                        self._outbox.mark_retry,
                        waiting.id,
                        f"waiting: {self.last_error}",
                        retry_at,
                        self._clock(),
                        False,
                        None,
                        self.owner,
                    )
                if len(items) > index + 1:
                    self._changed()
                break
            sent += 1 if outcome else 0
        return sent

    async def _hold_for_secret(self, items: list[OutboxItem], message: str) -> None:
        # Nothing was sent, so no attempt is counted; the item waits with the advice.
        if message != self.last_error:
            log.error("MES outbox held: %s", message)
        self.last_error = message
        retry_at = self._clock() + self._link.retry_interval
        for item in items:
            await asyncio.to_thread(
                self._outbox.mark_retry, item.id, message, retry_at, self._clock(), False,
                None, self.owner,
            )
        self._changed()

    async def _post(
        self, session: aiohttp.ClientSession, item: OutboxItem, auth: dict[str, str],
        renewed: bool = False,
    ) -> bool | object | None:
        """True: sent; False: rejected; None: to be retried (the MES is unavailable);
        _RENEWED: refused a token that is now forgotten (post again with a new one)."""
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.id,
            **auth,
        }
        timeout = aiohttp.ClientTimeout(total=self._link.timeout)
        try:
            async with session.post(
                self._link.url,
                data=item.payload.encode("utf-8"),
                headers=headers,
                timeout=timeout,
                allow_redirects=False,  # never replay the key to wherever a 3xx points
                ssl=self._link.verify_tls,
            ) as response:
                status = response.status
                body = (await response.text(errors="replace"))[:MAX_MESSAGE_CHARS]
                content_type = response.headers.get("Content-Type", "")
                retry_after = retry_after_seconds(response.headers.get("Retry-After"),
                                                  self._clock())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            where = urlsplit(self._link.url).netloc
            await self._retry(item, f"cannot reach the MES at {where}: {_network_reason(exc)}")
            return None

        now = self._clock()
        if 200 <= status < 300:
            # 204 No Content says "done, nothing to tell"; any other 2xx must carry the
            # MES's JSON receipt
            wrong = "" if status == 204 else _receipt(content_type, body)
            if wrong:  # not the MES's receipt: never counted as delivered
                await self._retry(item, f"the MES answered HTTP {status} with {wrong}; "
                                  "not counted as delivered, retried", status)
                return None
            await asyncio.to_thread(self._outbox.mark_sent, item.id, status, now, self.owner)
            log.info("MES accepted outbox %s (HTTP %d)", item.id, status)
            self.last_error = ""
            return True
        if status == 401 and not renewed and self._auth.refused():
            log.info("MES refused our token (HTTP 401): renewing it once")
            return _RENEWED
        if status in CREDENTIALS_REFUSED:
            # a wrong or rotated credential: hold, reject nothing (the backlog waits)
            await self._retry(item, f"held: the MES refused our credential (HTTP {status}): "
                              f"{body or 'no reason given'}; check the API key "
                              f"({self._link.api_key_secret!r} in the keyring: hmi secrets "
                              "set)", status)
            return None
        if status >= 500 or status in RETRYABLE_4XX or retry_after is not None:
            # (any answer with Retry-After: the server says "later", e.g. a 409 while
            # the same transaction is still being processed)
            await self._retry(item, f"MES answered HTTP {status}: {body}", status,
                              retry_after)
            return None
        message = f"HTTP {status}: {body}" if body else f"HTTP {status}"
        await asyncio.to_thread(self._outbox.mark_rejected, item.id, status, message, now,
                                self.owner)
        log.warning("MES rejected outbox %s: %s", item.id, message)
        return False

    async def _retry(self, item: OutboxItem, error: str, http_status: int | None = None,
                     retry_after: float | None = None) -> None:
        now = self._clock()
        delay = backoff_delay(self._link.retry_interval, item.attempts + 1)
        if retry_after is not None:  # the server says when: its word, not our backoff
            delay = retry_after
        await asyncio.to_thread(
            self._outbox.mark_retry, item.id, error, now + delay, now, True, http_status,
            self.owner,
        )
        self.last_error = error
        log.warning("MES outbox %s not sent (retry in %.1f s): %s", item.id, delay, error)

    def _changed(self) -> None:
        self._listeners.fire()
