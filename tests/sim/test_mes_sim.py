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
            assert status == 400
            assert "confirmedBy" in answer["error"]
            body = transaction()
            body["quantity"]["good"] = -3
            status, answer = await post(sim, body, idem="k-2")
            assert (status, answer["error"]) == (400, "field 'quantity.good' must not be negative")
            status, answer = await post(sim, {**transaction(), "type": "Other"}, idem="k-3")
            assert status == 400
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
            assert second[1]["duplicate"] is True
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
