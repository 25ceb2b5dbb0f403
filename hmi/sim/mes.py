"""The demo MES: a real HTTP server on 127.0.0.1 that records what the HMI posts.

POST /api/transactions takes a ProductionPerformance JSON body with ``X-API-Key`` and
``Idempotency-Key`` headers, and answers as a strict MES: 401 for a wrong or missing API
key; 400 for a body that is not JSON or a missing Idempotency-Key; 422 naming the field
for a transaction that breaks the schema (problems as application/problem+json). The
Idempotency-Key follows the IETF httpapi draft: a replay gets the first answer again
with ``Idempotent-Replayed: true`` and is not recorded twice; the same key with another
body is 422; the same key while the first is still being processed is 409 (with
``Retry-After``). GET /api/transactions lists what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import datetime
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/api/transactions"
TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a password)
MAX_BODY_BYTES = 1_000_000


class InvalidTransactionError(ValueError):
    """The body is not a ProductionPerformance transaction; the message names the field."""


def _require(body: dict[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    if field not in body:
        raise InvalidTransactionError(f"missing field '{field}'")
    value = body[field]
    # bool is an int in Python; a count of True parts is still a malformed body
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidTransactionError(f"field '{field}' must be {getattr(kind, '__name__', kind)}")
    return value


def _require_time(body: dict[str, Any], field: str) -> None:
    value = _require(body, field, str)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidTransactionError(f"field '{field}' is not an ISO-8601 time") from exc
    if moment.tzinfo is None:
        raise InvalidTransactionError(f"field '{field}' has no timezone (expected UTC 'Z')")


def validate_production_performance(body: object) -> None:
    """Raise InvalidTransactionError naming the first missing or malformed field."""
    if not isinstance(body, dict):
        raise InvalidTransactionError("the body must be a JSON object")
    if body.get("type") != "ProductionPerformance":
        raise InvalidTransactionError("field 'type' must be 'ProductionPerformance'")
    for field in ("transactionId", "line", "rule", "confirmedBy", "comment"):
        _require(body, field, str)
    if not body["transactionId"] or not body["confirmedBy"]:
        raise InvalidTransactionError("fields 'transactionId' and 'confirmedBy' must not be empty")
    for field in ("periodStart", "periodEnd", "confirmedAt"):
        _require_time(body, field)
    _require(body, "complete", bool)
    quantity = _require(body, "quantity", dict)
    for field in ("good", "reject"):
        count = _require(quantity, field, int)
        if count < 0:
            raise InvalidTransactionError(f"field 'quantity.{field}' must not be negative")
    _require(quantity, "unit", str)


def problem(status: int, kind: str, detail: str,
            headers: dict[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem (application/problem+json); ``error`` repeats the detail."""
    body = {"type": f"https://mes.example/problems/{kind}", "title": kind.replace("-", " "),
            "status": status, "detail": detail, "error": detail}
    return web.json_response(body, status=status, headers=headers,
                             content_type="application/problem+json")


class MesSimulator:
    """In-process MES for the demo and tests; start() on port 0 picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = "demo-key",
                 auth: str = "api_key") -> None:
        """``auth``: api_key (``X-API-Key: api_key``), basic (user ``hmi``, password
        ``api_key``) or oauth2 (client ``hmi`` with secret ``api_key`` at TOKEN_PATH,
        Bearer tokens living ``token_lifetime`` seconds)."""
        self.host = host
        self._port = port
        self.api_key = api_key
        self.auth = auth
        self.client_id = "hmi"
        self.token_lifetime = 60.0
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # token -> when it expires
        self.received: list[dict[str, Any]] = []
        self.post_count = 0  # every POST that reached the handler, accepted or not
        self.posts_per_key: dict[str, int] = {}  # Idempotency-Key -> POSTs that carried it
        self.latency = 0.0  # seconds each POST takes to answer (a real MES is not instant)
        # the share of accepted POSTs whose answer is lost: processed and recorded, then
        # the connection dropped (the worst case for exactly-once)
        self.drop_answers = 0.0
        self.dropped = 0
        self._random = random.Random(7)
        # Idempotency-Key -> the first answer and the body's fingerprint
        self._answers: dict[str, tuple[dict[str, Any], str]] = {}
        self._in_flight: set[str] = set()
        # answers forced on the next POSTs: (status, JSON message or raw text, headers)
        self._forced: list[tuple[int, str, dict[str, str], bool]] = []
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}{PATH}"

    @property
    def token_url(self) -> str:
        return f"http://{self.host}:{self._port}{TOKEN_PATH}"

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (a revocation, or a clock jump)."""
        self._tokens = dict.fromkeys(self._tokens, 0.0)

    @property
    def running(self) -> bool:
        return self._runner is not None

    def reject_next(self, status: int, message: str, retry_after: str = "") -> None:
        """Answer the next POST with ``status`` and ``message`` (after authentication),
        with a ``Retry-After`` header when given (seconds or an HTTP date)."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        self._forced.append((status, message, headers, False))

    def answer_next_with_html(self, status: int = 200) -> None:
        """Answer the next POST as a proxy's login page would: HTML, records nothing."""
        page = "<html><body><form action='/login'>Sign in</form></body></html>"
        self._forced.append((status, page, {"Content-Type": "text/html"}, True))

    async def start(self) -> None:
        """Serve; after a stop() it comes back on the same port."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(PATH, self._on_post)
        app.router.add_post(TOKEN_PATH, self._on_token)
        app.router.add_get(PATH, self._on_list)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        log.info("MES simulator listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("MES simulator stopped")

    async def _on_post(self, request: web.Request) -> web.Response:
        self.post_count += 1
        refused = self._refused(request)
        if refused:
            return problem(401, "unauthorized", refused,
                           {"WWW-Authenticate": "Bearer"} if self.auth == "oauth2" else None)
        if self._forced:
            status, message, headers, raw = self._forced.pop(0)
            if raw:
                return web.Response(text=message, status=status,
                                    content_type=headers.get("Content-Type", "text/plain"))
            return problem(status, "forced", message, headers)
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return problem(400, "idempotency-key-missing", "missing Idempotency-Key header")
        self.posts_per_key[key] = self.posts_per_key.get(key, 0) + 1
        text = await request.text()
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        if key in self._answers:  # a replay: the first answer again, said to be one
            answer, first = self._answers[key]
            if first != fingerprint:
                return problem(422, "idempotency-key-reused",
                               "this Idempotency-Key came with another body")
            return web.json_response(answer, headers={"Idempotent-Replayed": "true"})
        if key in self._in_flight:
            return problem(409, "idempotency-key-in-use", "a request with this "
                           "Idempotency-Key is being processed", {"Retry-After": "1"})
        self._in_flight.add(key)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._process(request, key, text, fingerprint)
        finally:
            self._in_flight.discard(key)

    def _refused(self, request: web.Request) -> str:
        """Why the request is not authenticated ("" when it is)."""
        if self.auth == "api_key":
            given = request.headers.get("X-API-Key", "")
            ok = hmac.compare_digest(given.encode(), self.api_key.encode())
            return "" if ok else "missing or wrong X-API-Key"
        header = request.headers.get("Authorization", "")
        if self.auth == "basic":
            expected = "Basic " + base64.b64encode(f"hmi:{self.api_key}".encode()).decode()
            ok = hmac.compare_digest(header.encode(), expected.encode())
            return "" if ok else "missing or wrong basic credentials"
        token = header.removeprefix("Bearer ").strip()
        expires = self._tokens.get(token)
        if expires is None:
            return "missing or unknown bearer token"
        return "" if time.time() < expires else "the bearer token has expired"

    async def _on_token(self, request: web.Request) -> web.Response:
        """OAuth2 client credentials (RFC 6749 4.4): a short-lived bearer token."""
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        secret = str(form.get("client_secret", ""))
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
                secret.encode(), self.api_key.encode()):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.time() + self.token_lifetime
        self.tokens_issued += 1
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": self.token_lifetime})

    def _process(self, request: web.Request, key: str, text: str,
                 fingerprint: str) -> web.Response:
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            return problem(400, "malformed", "the body is not JSON")
        try:
            validate_production_performance(body)
        except InvalidTransactionError as exc:
            return problem(422, "invalid-transaction", str(exc))
        answer = {"status": "accepted", "transactionId": body["transactionId"]}
        self._answers[key] = (answer, fingerprint)
        self.received.append(
            {
                "transaction": body,
                "idempotency_key": key,
                "content_type": request.headers.get("Content-Type", ""),
                "received_at": time.time(),
            }
        )
        log.info("MES simulator recorded transaction %s", body["transactionId"])
        if self.drop_answers and self._random.random() < self.drop_answers:
            self.dropped += 1
            if request.transport is not None:
                request.transport.abort()  # processed; the answer never leaves
        return web.json_response(answer)

    async def _on_list(self, _request: web.Request) -> web.Response:
        return web.json_response(self.received)
