"""The MES simulator: authentication, validation, recording and idempotency over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from hmi.sim.mes import MesSimulator


def transaction(transaction_id: str = "t-1") -> dict[str, Any]:
    return {
        "type": "ProductionPerformance",
        "transactionId": transaction_id,
        "line": "L1",
        "rule": "filler-count",
        "periodStart": "2024-05-01T06:00:00.000Z",
        "periodEnd": "2024-05-01T06:01:00.000Z",
        "quantity": {"good": 10, "reject": 1, "unit": "pcs"},
        "confirmedBy": "alice",
        "comment": "",
        "confirmedAt": "2024-05-01T06:02:00.000Z",
        "complete": True,
    }


async def post(
    sim: MesSimulator, body: object, key: str = "demo-key", idem: str = "k-1"
) -> tuple[int, Any]:
    headers = {"X-API-Key": key, "Idempotency-Key": idem}
    async with (
        aiohttp.ClientSession() as session,
        session.post(sim.url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


def test_records_a_valid_transaction_and_lists_it() -> None:
    async def scenario() -> None:
        sim = MesSimulator()
        await sim.start()
        try:
            assert sim.port > 0
            assert sim.url == f"http://127.0.0.1:{sim.port}/api/transactions"
            status, answer = await post(sim, transaction())
            assert (status, answer["status"]) == (200, "accepted")
            assert sim.received[0]["transaction"] == transaction()
            assert sim.received[0]["idempotency_key"] == "k-1"
            async with aiohttp.ClientSession() as session, session.get(sim.url) as response:
                listed = await response.json()
            assert [r["transaction"]["transactionId"] for r in listed] == ["t-1"]
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_wrong_or_missing_key_is_401_and_not_recorded() -> None:
    async def scenario() -> None:
        sim = MesSimulator(api_key="right")
        await sim.start()
        try:
            assert (await post(sim, transaction(), key="wrong"))[0] == 401
            assert (await post(sim, transaction(), key=""))[0] == 401
            assert sim.received == []
            assert sim.post_count == 2
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_malformed_body_is_400_naming_the_field() -> None:
    async def scenario() -> None:
        sim = MesSimulator()
        await sim.start()
        try:
            body = transaction()
            del body["confirmedBy"]
            status, answer = await post(sim, body)
            assert status == 422  # a schema violation (RFC 9457 problem)
            assert "confirmedBy" in answer["detail"]
            body = transaction()
            body["quantity"]["good"] = -3
            status, answer = await post(sim, body, idem="k-2")
            assert (status, answer["detail"]) == (422, "field 'quantity.good' must not be negative")
            status, answer = await post(sim, {**transaction(), "type": "Other"}, idem="k-3")
            assert status == 422
            assert "'type'" in answer["error"]
            assert sim.received == []
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_a_repeated_idempotency_key_is_not_recorded_twice() -> None:
    async def scenario() -> None:
        sim = MesSimulator()
        await sim.start()
        try:
            first = await post(sim, transaction(), idem="same")
            second = await post(sim, transaction(), idem="same")
            assert first[0] == second[0] == 200
            assert second[1] == first[1]  # the first answer again
            assert len(sim.received) == 1
            assert sim.post_count == 2
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_reject_next_and_restart_on_the_same_port() -> None:
    async def scenario() -> None:
        sim = MesSimulator()
        await sim.start()
        port = sim.port
        sim.reject_next(422, "unknown line L1")
        status, answer = await post(sim, transaction())
        assert (status, answer["error"]) == (422, "unknown line L1")
        await sim.stop()
        await sim.start()
        try:
            assert sim.port == port
            assert (await post(sim, transaction()))[0] == 200
            assert len(sim.received) == 1
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_idempotency_keys_follow_the_ietf_draft() -> None:
    """Replay: the first answer, marked replayed; the same key with another body: 422;
    while the first is in flight: 409 with Retry-After; no key: 400; not JSON: 400."""
    async def scenario() -> None:
        sim = MesSimulator()
        sim.latency = 0.3
        await sim.start()
        try:
            headers = {"X-API-Key": "demo-key", "Idempotency-Key": "k-9"}
            async with aiohttp.ClientSession() as session:
                async def send(body: object, extra: dict[str, str] | None = None):
                    async with session.post(sim.url, json=body,
                                            headers={**headers, **(extra or {})}) as r:
                        return r.status, r.headers, await r.json(content_type=None)

                async def a_moment_later():
                    await asyncio.sleep(0.05)  # while the first is being processed
                    return await send(transaction())

                first, busy = await asyncio.gather(send(transaction()), a_moment_later())
                statuses = sorted([first[0], busy[0]])
                assert statuses == [200, 409]
                conflict = first if first[0] == 409 else busy
                assert conflict[1]["Retry-After"] == "1"
                assert conflict[1]["Content-Type"].startswith("application/problem+json")
                assert conflict[2]["type"].endswith("/idempotency-key-in-use")
                again = await send(transaction())
                assert again[0] == 200 and again[1]["Idempotent-Replayed"] == "true"
                other = await send({**transaction(), "comment": "changed"})
                assert other[0] == 422
                assert other[2]["type"].endswith("/idempotency-key-reused")
                async with session.post(sim.url, json=transaction(),
                                        headers={"X-API-Key": "demo-key"}) as r:
                    assert r.status == 400
                async with session.post(sim.url, data=b"{not json",
                                        headers={**headers, "Idempotency-Key": "k-10"}) as r:
                    assert r.status == 400
            assert len(sim.received) == 1
        finally:
            await sim.stop()

    asyncio.run(scenario())
