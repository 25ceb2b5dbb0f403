"""How the sender authenticates to the MES, per the site's ``[mes] auth``:

- ``api_key``: the key in an ``X-API-Key`` header;
- ``basic``: HTTP basic, ``username`` and the password;
- ``oauth2``: the client-credentials grant at ``token_url`` (``client_id``, the client
  secret, ``scope``); the token is cached and renewed before it expires (at 80 % of its
  life), one renewal at a time; a 401 from the MES renews it once.

Every secret comes from the keyring (``api_key_secret`` names the entry: the API key, the
password, or the client secret) and is never logged. A credential that cannot be had
(no keyring entry, a token endpoint that is down or refuses us) raises AuthError with a
reason a shift lead can act on: the sender holds, rejecting nothing.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from hmi.core.site import MesLink

log = logging.getLogger(__name__)
RENEW_AT = 0.8  # of a token's life: renewed before it runs out, not after a 401


class AuthError(Exception):
    """No credential for the MES now; the message says why and what to do."""


class Credentials:
    def __init__(self, link: MesLink, secret: Callable[[], str],
                 clock: Callable[[], float] = time.time) -> None:
        self._link = link
        self._secret = secret  # blocking (the keyring): called in a thread
        self._clock = clock
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.renewals = 0  # tokens fetched (tests, diagnostics)

    async def headers(self, session: aiohttp.ClientSession) -> dict[str, str]:
        """The headers that authenticate a request now (AuthError: none can)."""
        kind = self._link.auth
        if kind == "oauth2":
            return {"Authorization": f"Bearer {await self._bearer(session)}"}
        secret = await self._read_secret()
        if kind == "basic":
            pair = f"{self._link.username}:{secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {"X-API-Key": secret}

    def refused(self) -> bool:
        """The MES answered 401: forget the token; True if a new one is worth a try
        (OAuth2: once, the token may have been revoked or expired early)."""
        if self._link.auth != "oauth2" or not self._token:
            return False
        self._token, self._renew_at = "", 0.0
        return True

    async def _read_secret(self) -> str:
        from hmi.mes.secrets import SecretError  # noqa: PLC0415 (keyring: when sending)

        try:
            return await asyncio.to_thread(self._secret)
        except SecretError as exc:
            raise AuthError(str(exc)) from None

    async def _bearer(self, session: aiohttp.ClientSession) -> str:
        async with self._lock:  # one renewal at a time; the others use its token
            if self._token and self._clock() < self._renew_at:
                return self._token
            secret = await self._read_secret()
            self._token, lifetime = await self._fetch(session, secret)
            self._renew_at = self._clock() + RENEW_AT * lifetime
            self.renewals += 1
            log.info("MES token renewed (valid %.0f s)", lifetime)
            return self._token

    async def _fetch(self, session: aiohttp.ClientSession, secret: str) -> tuple[str, float]:
        link = self._link
        where = urlsplit(link.token_url).netloc
        form = {"grant_type": "client_credentials", "client_id": link.client_id,
                "client_secret": secret}
        if link.scope:
            form["scope"] = link.scope
        try:
            async with session.post(link.token_url, data=form,
                                    timeout=aiohttp.ClientTimeout(total=link.timeout),
                                    allow_redirects=False, ssl=link.verify_tls) as response:
                status = response.status
                text = await response.text(errors="replace")
                answer = await _json(response, text)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AuthError(f"the MES's token endpoint at {where} cannot be reached "
                            f"({type(exc).__name__})") from None
        if status in (400, 401, 403):
            what = answer.get("error", "") if isinstance(answer, dict) else ""
            raise AuthError(f"the MES's token endpoint refused our client credentials "
                            f"(HTTP {status}{': ' + str(what) if what else ''}): check "
                            f"client_id {link.client_id!r} and the client secret "
                            f"{link.api_key_secret!r} in the keyring")
        if not isinstance(answer, dict):
            answer = {}
        token = answer.get("access_token")
        if status != 200 or not isinstance(token, str) or not token:
            raise AuthError(f"the MES's token endpoint answered HTTP {status} without a "
                            "token")
        lifetime = answer.get("expires_in", 300)
        return token, float(lifetime) if isinstance(lifetime, int | float) else 300.0


async def _json(response: aiohttp.ClientResponse, text: str) -> object:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return {"error": text[:200]}
