"""OutboxSender against a real MesSimulator on 127.0.0.1: sent once, kept, retried."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hmi.core.events import ProductionEvent
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.core.site import MesLink
from hmi.mes.payloads import production_performance
from hmi.mes.secrets import MissingSecretError
from hmi.mes.sender import MAX_BACKOFF, OutboxSender, backoff_delay
from hmi.services.production import ProductionService
from hmi.sim.mes import MesSimulator
from hmi.store.database import Database, open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.security_helpers import GUARD, operator

API_KEY = "k3y-that-must-never-leak-7f3a"


class FakeClock:
    def __init__(self, now: float = 1_714_543_200.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Plant:
    db: Database
    path: Path
    events: EventRepository
    outbox: OutboxRepository
    clock: FakeClock


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    path = tmp_path / "hmi.sqlite"
    db = open_database(path)
    yield Plant(db, path, EventRepository(db), OutboxRepository(db), FakeClock())
    db.close()


def add_event(plant: Plant) -> ProductionEvent:
    event = ProductionEvent(
        str(uuid.uuid4()),
        "filler-count",
        "L1",
        plant.clock.now - 60,
        plant.clock.now,
        120,
        3,
        "pcs",
        True,
    )
    plant.events.add(event)
    return event


def make_sender(plant: Plant, sim: MesSimulator, key: str = API_KEY) -> OutboxSender:
    link = MesLink(url=sim.url, api_key_secret="mes", timeout=2.0, retry_interval=0.05)
    return OutboxSender(plant.outbox, link, lambda: key, clock=plant.clock)


def only_item(plant: Plant) -> OutboxItem:
    [item] = plant.outbox.list()
    return item


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (polls the database, which has no event)
            await asyncio.sleep(0.01)


def test_confirming_an_event_makes_exactly_one_post(plant: Plant) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        sender = make_sender(plant, sim)
        service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
        task = asyncio.create_task(sender.run())
        try:
            event = add_event(plant)
            outbox_id = await service.confirm(event.event_id, operator("alice"), "  all good \n")
            await wait_until(lambda: only_item(plant).status is OutboxStatus.SENT)
            await asyncio.sleep(0.2)  # several more sender passes: still one POST
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()
        assert sim.post_count == 1
        [record] = sim.received
        assert record["idempotency_key"] == outbox_id
        assert record["content_type"] == "application/json"
        body = record["transaction"]
        assert body["transactionId"] == outbox_id
        assert body["quantity"] == {"good": 120, "reject": 3, "unit": "pcs"}
        assert (body["confirmedBy"], body["comment"]) == ("alice", "all good")
        item = only_item(plant)
        assert (item.http_status, item.attempts, item.sent_at) == (200, 1, plant.clock.now)

    asyncio.run(scenario())


def test_none_while_the_mes_is_down_then_one_when_it_is_back(plant: Plant) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        sender = make_sender(plant, sim)
        await sim.stop()

        event = add_event(plant)
        body = production_performance(event, "ob-1", "alice", "", plant.clock.now)
        plant.events.confirm(event.event_id, "alice", "", body, plant.clock.now, "ob-1")
        assert await sender.send_due_once() == 0
        item = only_item(plant)
        assert item.status is OutboxStatus.PENDING
        assert item.attempts == 1
        assert "cannot reach the MES" in item.last_error
        assert item.next_attempt_at == pytest.approx(plant.clock.now + 0.05)

        plant.clock.now += 0.05
        assert await sender.send_due_once() == 0
        item = only_item(plant)
        assert item.attempts == 2
        assert item.next_attempt_at == pytest.approx(plant.clock.now + 0.1)  # doubled

        await sim.start()  # back, on the same port
        try:
            assert await sender.send_due_once() == 0  # not due yet: backoff holds
            assert sim.post_count == 0
            plant.clock.now += 0.11
            assert await sender.send_due_once() == 1
            assert await sender.send_due_once() == 0
        finally:
            await sim.stop()
        assert sim.post_count == 1
        assert len(sim.received) == 1
        assert only_item(plant).status is OutboxStatus.SENT

    asyncio.run(scenario())


def test_rejection_is_kept_with_the_message_and_not_retried(plant: Plant) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(422, "line L1 is not known to the MES")
            assert await sender.send_due_once() == 0
            plant.clock.now += 3600
            assert await sender.send_due_once() == 0
        finally:
            await sim.stop()
        assert sim.post_count == 1
        item = only_item(plant)
        assert item.status is OutboxStatus.REJECTED
        assert item.http_status == 422
        assert "line L1 is not known to the MES" in item.last_error
        assert plant.outbox.counts() == {"pending": 0, "sent": 0, "rejected": 1}

    asyncio.run(scenario())


def test_server_error_is_retried_not_rejected(plant: Plant) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(503, "maintenance")
            assert await sender.send_due_once() == 0
            item = only_item(plant)
            assert (item.status, item.http_status) == (OutboxStatus.PENDING, 503)
            plant.clock.now += 1
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()
        assert len(sim.received) == 1

    asyncio.run(scenario())


def test_a_refused_credential_holds_sending_and_rejects_nothing(plant: Plant) -> None:
    """A rotated API key must not set the backlog aside: 401 holds, with the reason."""
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            key = {"value": "wrong-key"}
            link = MesLink(url=sim.url, api_key_secret="mes", timeout=2.0,
                           retry_interval=0.05)
            sender = OutboxSender(plant.outbox, link, lambda: key["value"], clock=plant.clock)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            for _ in range(3):
                await service.confirm(add_event(plant).event_id, operator("alice"), "")
            assert await sender.send_due_once() == 0
            items = plant.outbox.list()
            assert {i.status for i in items} == {OutboxStatus.PENDING}  # none rejected
            assert sender.last_error.startswith("held: the MES refused our credential (HTTP 401)")
            assert "'mes' in the keyring" in sender.last_error
            assert sim.post_count == 1  # one try, not one per item
            key["value"] = API_KEY  # the key put right: the backlog goes, in order
            plant.clock.now += 1
            assert await sender.send_due_once() == 3
        finally:
            await sim.stop()
        assert len(sim.received) == 3

    asyncio.run(scenario())


def test_retry_after_is_honoured_on_429_and_503(plant: Plant) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(429, "slow down", retry_after="30")
            assert await sender.send_due_once() == 0
            item = only_item(plant)
            assert item.next_attempt_at == pytest.approx(plant.clock.now + 30)  # not +0.05
            plant.clock.now += 29
            assert await sender.send_due_once() == 0
            assert sim.post_count == 1  # not asked again before the server said
            plant.clock.now += 1
            when = email.utils.formatdate(plant.clock.now + 120, usegmt=True)
            sim.reject_next(503, "maintenance", retry_after=when)
            assert await sender.send_due_once() == 0
            assert only_item(plant).next_attempt_at == pytest.approx(plant.clock.now + 120,
                                                                     abs=1.0)
            plant.clock.now += 121
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()
        assert len(sim.received) == 1

    asyncio.run(scenario())


def test_a_2xx_that_is_not_a_receipt_is_not_counted_as_delivered(plant: Plant) -> None:
    """A proxy's login page answered 200: retried and said, never SENT."""
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.answer_next_with_html(200)
            assert await sender.send_due_once() == 0
            item = only_item(plant)
            assert (item.status, item.http_status) == (OutboxStatus.PENDING, 200)
            assert "text/html, not JSON (a proxy's or login page?)" in item.last_error
            plant.clock.now += 1
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()
        assert len(sim.received) == 1

    asyncio.run(scenario())


def test_items_go_in_the_order_they_were_queued_when_the_first_fails_again(
        plant: Plant) -> None:
    """Past the first batch nothing overtakes the head waiting for its retry."""
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            link = MesLink(url=sim.url, api_key_secret="mes", timeout=2.0,
                           retry_interval=0.05)
            sender = OutboxSender(plant.outbox, link, lambda: API_KEY, clock=plant.clock,
                                  batch_size=2)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            for _ in range(5):
                await service.confirm(add_event(plant).event_id, operator("alice"), "")
                plant.clock.now += 0.001  # queued one after the other
            sim.reject_next(503, "busy")
            sim.reject_next(503, "busy")
            assert await sender.send_due_once() == 0  # the head fails: the pass stops
            assert await sender.send_due_once() == 0  # nothing behind it goes first
            assert sim.post_count == 1
            for _ in range(20):
                plant.clock.now += 1
                await sender.send_due_once()
        finally:
            await sim.stop()
        queued = [i.id for i in sorted(plant.outbox.list(), key=lambda i: i.created_at)]
        assert [r["idempotency_key"] for r in sim.received] == queued

    asyncio.run(scenario())


def test_a_resend_after_a_lost_answer_is_not_double_recorded(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            # The MES booked it but the HMI crashed before marking it sent.
            real_mark_sent = plant.outbox.mark_sent
            monkeypatch.setattr(plant.outbox, "mark_sent", _crash)
            with pytest.raises(RuntimeError):
                await sender.send_due_once()
            monkeypatch.setattr(plant.outbox, "mark_sent", real_mark_sent)
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()
        assert sim.post_count == 2
        assert len(sim.received) == 1
        assert only_item(plant).status is OutboxStatus.SENT

    asyncio.run(scenario())


def _crash(*_args: object) -> None:
    raise RuntimeError("power cut")


def test_missing_secret_keeps_the_item_pending_with_advice(plant: Plant) -> None:
    def no_key() -> str:
        raise MissingSecretError("mes")

    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            link = MesLink(url=sim.url, api_key_secret="mes", retry_interval=0.05)
            sender = OutboxSender(plant.outbox, link, no_key, clock=plant.clock)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            assert await sender.send_due_once() == 0
        finally:
            await sim.stop()
        assert sim.post_count == 0
        item = only_item(plant)
        assert (item.status, item.attempts) == (OutboxStatus.PENDING, 0)
        assert "hmi secrets set mes" in item.last_error

    asyncio.run(scenario())


def test_the_api_key_never_reaches_logs_or_the_database(
    plant: Plant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        sender = make_sender(plant, sim)
        service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
        try:
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(400, "bad")
            await sender.send_due_once()  # one rejected, one sent
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            await sim.stop()
            await sender.send_due_once()  # one retried
        finally:
            await sim.stop()
        assert plant.outbox.counts() == {"pending": 1, "sent": 1, "rejected": 1}

    asyncio.run(scenario())
    assert caplog.records
    assert API_KEY not in caplog.text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
    plant.db.close()
    for file in plant.path.parent.iterdir():
        assert API_KEY.encode() not in file.read_bytes(), file.name
    assert json.loads(plant.outbox.list()[0].payload)  # the store still reads fine


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(2.0, n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(2.0, 10) == MAX_BACKOFF == 60.0
    assert backoff_delay(2.0, 10_000) == 60.0


def test_listeners_hear_every_change_a_screen_shows(plant: Plant, caplog) -> None:
    """Queued, sent, rejected, retried, MES lost and back: each one notifies, with the
    counts (and last_error) already changed; a broken listener does not stop the rest."""

    async def scenario() -> list[tuple[dict[str, int], str]]:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        sender = make_sender(plant, sim)
        heard: list[tuple[dict[str, int], str]] = []

        def broken() -> None:
            raise RuntimeError("a broken screen")

        sender.add_listener(broken)
        remove = sender.add_listener(lambda: heard.append((plant.outbox.counts(),
                                                           sender.last_error)))
        service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
        try:
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            await sender.send_due_once()  # sent
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(422, "unknown line")
            await sender.send_due_once()  # rejected
            await sim.stop()
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            await sender.send_due_once()  # the MES is gone: retried later
            await sim.start()
            plant.clock.now += 1
            await sender.send_due_once()  # back
            remove()
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
        finally:
            await sim.stop()
        return heard

    with caplog.at_level(logging.ERROR, logger="hmi.mes.sender"):
        heard = asyncio.run(scenario())
    counts = [(c["pending"], c["sent"], c["rejected"]) for c, _ in heard]
    assert counts == [(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 1),
                      (0, 2, 1)], "queued, sent, queued, rejected, queued, retried, sent"
    problems = [error for _, error in heard]
    assert "cannot reach the MES" in problems[5], "the network problem begins"
    assert problems[6] == "", "and ends"
    assert len(heard) == 7, "a removed listener hears nothing more"
    assert sum("outbox change listener" in r.getMessage() for r in caplog.records) == 8


def test_a_409_with_retry_after_is_waited_for_not_rejected(plant: Plant) -> None:
    """The MES still processing the same transaction (409 + Retry-After): try later."""
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.reject_next(409, "a request with this key is being processed",
                            retry_after="1")
            assert await sender.send_due_once() == 0
            item = only_item(plant)
            assert (item.status, item.http_status) == (OutboxStatus.PENDING, 409)
            assert item.next_attempt_at == pytest.approx(plant.clock.now + 1)
            plant.clock.now += 1
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_a_claim_kept_alive_or_lost_is_said_by_the_store(plant: Plant) -> None:
    """Claims are extended while held; one that lapsed and was taken is not (the pass
    that held it stops rather than post it while another sender does)."""
    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            for _ in range(2):
                await service.confirm(add_event(plant).event_id, operator("alice"), "")
        finally:
            await sim.stop()
        now = plant.clock.now
        ids = [i.id for i in plant.outbox.claim("A", now, 10.0, 5)]
        assert len(ids) == 2
        assert plant.outbox.claim("B", now + 1, 10.0, 5) == []  # A's, not lapsed
        assert plant.outbox.extend_claims("A", ids, now + 30) == 2
        assert plant.outbox.claim("B", now + 20, 10.0, 5) == []  # extended: still A's
        assert len(plant.outbox.claim("B", now + 31, 10.0, 5)) == 2  # lapsed: B's now
        assert plant.outbox.extend_claims("A", ids, now + 60) == 0  # A is told

    asyncio.run(scenario())


def test_odd_retry_after_values_and_a_204_receipt(plant: Plant) -> None:
    from hmi.mes.sender import retry_after_seconds

    assert retry_after_seconds("\u00b2", 0.0) is None  # a digit to isdigit()
    assert retry_after_seconds("soon", 0.0) is None
    assert retry_after_seconds("120", 0.0) == 120.0

    async def scenario() -> None:
        sim = MesSimulator(api_key=API_KEY)
        await sim.start()
        try:
            sender = make_sender(plant, sim)
            service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
            await service.confirm(add_event(plant).event_id, operator("alice"), "")
            sim.answer_next_with_html(204)  # 204 No Content: done, no body to tell
            assert await sender.send_due_once() == 1
        finally:
            await sim.stop()
        assert only_item(plant).status is OutboxStatus.SENT

    asyncio.run(scenario())
