"""Actions on alarms from the command line while a station runs: the request and its answer.

A running station's engine holds the alarm states in memory; a command that wrote the
store behind its back would be overwritten. So the command hands the station a request
per alarm (``hand_to_station``: after it checked the password and the permission itself)
and waits for the answers; the station's ``AlarmRequestDesk`` takes the pending requests
every ``interval`` seconds (one indexed query, off the loop) and performs each through
AlarmActions, as if it were typed at the screen: the permission again (with the user's
role on this station), the comment or reason, the signature the command took, and the
journal row, state, audit row and the request's answer in one transaction. A request is
performed once or not at all: one the command withdrew, or that expired, is never
performed later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from hmi.core.security import (
    Action,
    Actor,
    InputRejectedError,
    PermissionDeniedError,
    Role,
    Signature,
)
from hmi.services.alarm_actions import AlarmActions, UnknownAlarmError
from hmi.store.alarm_requests import (
    AlarmRequest,
    AlarmRequestRepository,
    NewRequest,
    RequestAction,
    RequestAnswer,
    RequestStatus,
    RequestWithdrawnError,
)
from hmi.store.database import StoreError
from hmi.store.users import UserRepository

log = logging.getLogger(__name__)

INTERVAL_S = 0.5  # how often the station looks for requests
POLL_S = 0.1  # how often the command looks for answers

PERMISSIONS = {
    RequestAction.ACKNOWLEDGE: Action.ACK_ALARM,
    RequestAction.SHELVE: Action.SHELVE_ALARM,
    RequestAction.UNSHELVE: Action.SHELVE_ALARM,
}


class AlarmRequestDesk:
    """The station's side: pending requests performed through ``actions``."""

    def __init__(self, actions: AlarmActions, requests: AlarmRequestRepository,
                 users: UserRepository, *, interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._actions = actions
        self._requests = requests
        self._users = users
        self._interval = interval
        self._clock = clock
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Every ``interval`` until ``stop``; a request in hand is finished first."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if not self._stopping.is_set():
                await self.take()

    def stop(self) -> None:
        self._stopping.set()

    async def take(self) -> int:
        """Perform the pending requests, oldest first; returns how many were taken."""
        try:
            pending = await asyncio.to_thread(self._requests.pending)
        except StoreError as exc:
            log.error("alarm requests: cannot read them (tried again in %g s): %s",
                      self._interval, exc)
            return 0
        for request in pending:
            await self._perform(request)
        return len(pending)

    async def _perform(self, request: AlarmRequest) -> None:
        try:
            if self._clock() > request.expires:  # the command stopped waiting
                await self._answer(request, RequestStatus.WITHDRAWN,
                                   "expired before the station took it")
                return
            refusal = await self._do(request)
            if refusal:
                await self._answer(request, RequestStatus.REFUSED, refusal)
        except RequestWithdrawnError:
            log.info("alarm request %d was withdrawn before it was done", request.id)
        except StoreError as exc:  # nothing done: tried again until it expires
            log.error("alarm request %d (%s %s by %s): the store refused: %s", request.id,
                      request.action, request.alarm, request.user, exc)

    async def _do(self, request: AlarmRequest) -> str:
        """Perform ``request``: "" when its answer is written (done, or refused by the
        alarm's state), else why it was refused before anything was done."""
        try:
            action = RequestAction(request.action)
        except ValueError:
            return f"this station does not know the action {request.action!r}"
        row = await asyncio.to_thread(self._users.get, request.user)
        if row is None or row.disabled:
            return f"the user {request.user} is unknown or disabled on this station"
        actor = Actor(row.name, Role(row.role), row.full_name)
        signature = (Signature(actor.name, actor.full_name, actor.role.value,
                               PERMISSIONS[action], request.meaning, request.created)
                     if request.meaning else None)
        name = request.alarm
        try:
            if action is RequestAction.ACKNOWLEDGE:
                said = await self._actions.acknowledge([name], actor, request.text, signature,
                                                       request=request.id)
            elif action is RequestAction.SHELVE:
                if request.minutes is None:
                    return "a shelve needs a length in minutes"
                said = {name: await self._actions.shelve(
                    name, actor, request.minutes, request.text, signature,
                    request=request.id)}
            else:
                said = {name: await self._actions.unshelve(
                    name, actor, request.text, signature, request=request.id)}
        except (PermissionDeniedError, InputRejectedError, UnknownAlarmError) as exc:
            return str(exc)
        log.info("alarm request %d: %s %s by %s: %s", request.id, action.value, name,
                 actor.name, said[name] or "done")
        return ""

    async def _answer(self, request: AlarmRequest, status: RequestStatus, text: str) -> None:
        answer = RequestAnswer(request.id, status, text)
        await asyncio.to_thread(self._requests.answer, [answer])
        log.info("alarm request %d (%s %s by %s) %s: %s", request.id, request.action,
                 request.alarm, request.user, status.value, text)


def hand_to_station(requests: AlarmRequestRepository, asked: Sequence[NewRequest],
                    wait_s: float, *, poll_s: float = POLL_S,
                    monotonic: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> list[RequestAnswer]:
    """The command's side: submit ``asked``, wait up to ``wait_s`` for the station's
    answers, withdraw what it did not answer (also when interrupted). One answer per
    request, in order; a withdrawn one says so (``RequestStatus.WITHDRAWN``)."""
    ids = requests.submit(asked, wait_s)
    deadline = monotonic() + wait_s
    answers: dict[int, RequestAnswer] = {}
    try:
        while True:
            answers = requests.answers(ids)
            if all(answers[i].status is not RequestStatus.PENDING for i in ids):
                return [answers[i] for i in ids]
            if monotonic() >= deadline:
                break
            sleep(poll_s)
    finally:
        unanswered = [i for i in ids
                      if i not in answers or answers[i].status is RequestStatus.PENDING]
        if unanswered:  # only those still pending: an answer that came meanwhile stands
            requests.answer([RequestAnswer(i, RequestStatus.WITHDRAWN,
                                           f"no answer within {wait_s:g} s")
                             for i in unanswered])
    answers = requests.answers(ids)
    return [answers[i] for i in ids]
