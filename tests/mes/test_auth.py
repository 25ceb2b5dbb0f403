"""How the sender authenticates, against the MES simulator's real token endpoint and
transaction API on 127.0.0.1: OAuth2 client credentials (token cached, renewed before
it expires, one renewal at a time, renewed once on 401), HTTP basic, and what a shift
lead is told when no credential can be had: sending held, nothing rejected."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest

from hmi.config import ConfigError, parse_site
from hmi.core.outbox import OutboxStatus
from hmi.core.site import MesLink
from hmi.mes.auth import Credentials
from hmi.mes.sender import OutboxSender
from hmi.services.production import ProductionService
from hmi.sim.mes import MesSimulator
from tests.conftest import free_port
from tests.mes.test_sender import Plant, add_event, plant  # noqa: F401 (a fixture)
from tests.security_helpers import GUARD, operator

SECRET = "client-secret-9f2"


def oauth_link(sim: MesSimulator, **changes: object) -> MesLink:
    link = MesLink(url=sim.url, api_key_secret="mes-client", timeout=2.0,
                   retry_interval=0.05, auth="oauth2", token_url=sim.token_url,
                   client_id="hmi")
    return replace(link, **changes)  # type: ignore[arg-type]


async def confirm(plant: Plant, sender: OutboxSender, count: int = 1) -> None:
    service = ProductionService(plant.events, sender.notify, GUARD, clock=plant.clock)
    for _ in range(count):
        await service.confirm(add_event(plant).event_id, operator("alice"), "")


def test_oauth2_token_is_cached_renewed_before_expiry_and_once_on_401(plant: Plant):
    async def scenario() -> None:
        sim = MesSimulator(api_key=SECRET, auth="oauth2")
        await sim.start()
        try:
            sender = OutboxSender(plant.outbox, oauth_link(sim), lambda: SECRET,
                                  clock=plant.clock)
            await confirm(plant, sender, 3)
            assert await sender.send_due_once() == 3
            assert sim.tokens_issued == 1  # one token for the three
            plant.clock.now += 50  # past 80 % of its 60 s life: renewed before it expires
            await confirm(plant, sender)
            assert await sender.send_due_once() == 1
            assert sim.tokens_issued == 2
            sim.expire_tokens()  # revoked at the MES: 401, renewed once, sent
            await confirm(plant, sender)
            assert await sender.send_due_once() == 1
            assert sim.tokens_issued == 3
        finally:
            await sim.stop()
        assert len(sim.received) == 5

    asyncio.run(scenario())


def test_one_renewal_at_a_time(plant: Plant):
    async def scenario() -> None:
        sim = MesSimulator(api_key=SECRET, auth="oauth2")
        await sim.start()
        try:
            credentials = Credentials(oauth_link(sim), lambda: SECRET, clock=plant.clock)
            async with aiohttp.ClientSession() as session:
                got = await asyncio.gather(*(credentials.headers(session) for _ in range(5)))
            assert len({h["Authorization"] for h in got}) == 1
            assert sim.tokens_issued == 1
        finally:
            await sim.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(("change", "said"), [
    ("wrong secret", "the MES's token endpoint refused our client credentials "
                     "(HTTP 401: invalid_client)"),
    ("endpoint down", "the MES's token endpoint at 127.0.0.1:"),
])
def test_no_token_holds_sending_and_rejects_nothing(plant: Plant, change: str, said: str):
    async def scenario() -> None:
        sim = MesSimulator(api_key=SECRET, auth="oauth2")
        await sim.start()
        try:
            link = oauth_link(sim)
            if change == "endpoint down":
                link = replace(link, token_url=f"http://127.0.0.1:{free_port()}/oauth/token")
            secret = "not-the-secret" if change == "wrong secret" else SECRET
            sender = OutboxSender(plant.outbox, link, lambda: secret, clock=plant.clock)
            await confirm(plant, sender, 2)
            assert await sender.send_due_once() == 0
            assert sender.last_error.startswith(said)
            assert {i.status for i in plant.outbox.list()} == {OutboxStatus.PENDING}
            assert all(i.attempts == 0 for i in plant.outbox.list())  # nothing was sent
            assert sim.post_count == 0
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_http_basic(plant: Plant):
    async def scenario() -> None:
        sim = MesSimulator(api_key=SECRET, auth="basic")
        await sim.start()
        try:
            link = MesLink(url=sim.url, api_key_secret="mes-password", timeout=2.0,
                           retry_interval=0.05, auth="basic", username="hmi")
            sender = OutboxSender(plant.outbox, link, lambda: SECRET, clock=plant.clock)
            await confirm(plant, sender)
            assert await sender.send_due_once() == 1
            wrong = OutboxSender(plant.outbox, link, lambda: "nope", clock=plant.clock)
            await confirm(plant, wrong)
            assert await wrong.send_due_once() == 0
            assert wrong.last_error.startswith("held: the MES refused our credential "
                                               "(HTTP 401)")
        finally:
            await sim.stop()
        assert len(sim.received) == 1

    asyncio.run(scenario())


def test_the_site_file_says_what_an_auth_kind_needs():
    base = ('[site]\nname = "x"\n\n[mes]\nurl = "https://mes.example/api"\n'
            'api_key_secret = "mes-client"\n')
    with pytest.raises(ConfigError) as refused:
        parse_site(base + 'auth = "oauth2"\n', "site.toml")
    assert "site.toml:" in str(refused.value)
    assert "mes.auth = 'oauth2' needs mes.token_url" in str(refused.value)
    with pytest.raises(ConfigError, match="mes.auth must be one of api_key, basic, oauth2"):
        parse_site(base + 'auth = "kerberos"\n', "site.toml")
    site = parse_site(base + 'auth = "oauth2"\ntoken_url = "https://mes.example/token"\n'
                             'client_id = "line-1"\nscope = "confirmations"\n', "site.toml")
    assert site.mes is not None
    assert (site.mes.auth, site.mes.client_id, site.mes.scope) == (
        "oauth2", "line-1", "confirmations")
