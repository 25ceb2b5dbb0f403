"""Alarms & Conditions (OPC UA Part 9) from a server that has them: ``ConditionSource``.

One source per OPC UA device with ``alarms_and_conditions = true``. It opens its own
session (the same security, certificates and keyring password as the device's worker),
subscribes to the Server object's events with a filter for the Part 9 fields, and calls
ConditionRefresh after every (re)subscribe: the server then resends every condition it
retains between a RefreshStartEvent and a RefreshEndEvent, and at the end the list is
replaced by exactly that set (what is not retained any more goes). Between refreshes
each condition event updates its condition; one with Retain = false removes it.

Only the trunk of a condition is kept: events of previous-state branches (BranchId not
null) are ignored, as is usual for an operator's alarm list.

Acknowledge and Confirm are called with the condition's latest EventId (Part 9 5.7.3);
TimedShelve and Unshelve on the condition's ShelvingState object (Part 9 5.8.10: some
servers, node-opcua among them, only take them there). Each action answers "" when the
server accepted it, or the refusal in words.

The connection's loss (socket closed, watchdog, the subscription reported dead by a
StatusChangeNotification) makes the source unreachable with the reason; it reconnects
with the workers' backoff, resubscribes and refreshes. The conditions last seen are
kept meanwhile, and reconciled by that refresh. Everything runs on the loop ``start``
is called on; the ``changes`` listeners are called there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from hmi.core.listeners import Listeners
from hmi.core.server_alarms import ConditionChanges, ServerCondition, priority_for_severity
from hmi.core.site import Device
from hmi.devices.connection import CommError, ReconnectBackoff
from hmi.devices.opcua import SESSION_TIMEOUT_MS
from hmi.devices.opcua_condition_fields import (
    EVENT_QUEUE_SIZE,
    FIELDS,
    INDEX,
    QUEUE_OVERFLOW,
    REFRESH_END,
    REFRESH_REQUIRED,
    REFRESH_START,
    event_filter,
    is_null,
    ns0,
    refusal_text,
    seconds_of,
    shelved_name,
    text_of,
)
from hmi.devices.opcua_security import PasswordProvider
from hmi.devices.opcua_session import (
    DISCONNECT_TIMEOUT,
    close_session,
    describe,
    open_session,
)

__all__ = ["ConditionChanges", "ConditionSource", "ServerCondition"]

_log = logging.getLogger(__name__)
Clock = Callable[[], float]
_O = ObjectIds

class _EventSubscription(Subscription):
    """Hands each event's fields (in ``FIELDS`` order) and status changes to the source."""

    def __init__(self, client: Client, params: ua.CreateSubscriptionParameters,
                 on_event: Callable[[list[Any]], None],
                 on_status: Callable[[ua.StatusChangeNotification], None]) -> None:
        super().__init__(client.uaclient.session, params, None, queue_maxsize=1)
        self._on_event = on_event
        self._on_status = on_status

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        message = publish_result.NotificationMessage
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        for notification in message.NotificationData:
            if isinstance(notification, ua.EventNotificationList):
                for event in notification.Events:
                    self._on_event([field.Value for field in event.EventFields])
            elif isinstance(notification, ua.StatusChangeNotification):
                self._on_status(notification)


class ConditionSource:
    """The conditions one OPC UA server retains, kept in step with it; see the module."""

    def __init__(self, device: Device, *, pki_dir: Path | None = None,
                 password_provider: PasswordProvider | None = None,
                 clock: Clock = time.time) -> None:
        self.device = device
        self._pki_dir = pki_dir
        self._password_provider = password_provider
        self._clock = clock
        self.changes: Listeners[[ConditionChanges]] = Listeners(f"{device.name} conditions")
        self._conditions: dict[str, ServerCondition] = {}
        self._event_ids: dict[str, bytes] = {}  # condition id -> latest EventId
        self._node_ids: dict[str, ua.NodeId] = {}
        self._fresh: dict[str, tuple[ServerCondition, bytes, ua.NodeId]] | None = None
        self._reachable = False
        self._problem = "not started"
        self._client: Client | None = None
        self._lost: asyncio.Event | None = None
        self._lost_reason = ""
        self._refreshed: asyncio.Event | None = None
        self._subscription_id = 0
        self._backoff = ReconnectBackoff()
        self._task: asyncio.Task[None] | None = None

    # -- what the screen reads -------------------------------------------------------------

    def conditions(self) -> list[ServerCondition]:
        """The retained conditions, most urgent first, newest first within a priority."""
        return sorted(self._conditions.values(), key=lambda c: (c.priority.rank, -c.time))

    def condition(self, condition_id: str) -> ServerCondition | None:
        return self._conditions.get(condition_id)

    def add_listener(self, listener: Callable[[ConditionChanges], None]
                     ) -> Callable[[], None]:
        """``listener(changes)`` on the source's loop; returns the function that removes it."""
        return self.changes.add(listener)

    @property
    def reachable(self) -> bool:
        """Connected, subscribed, and the list refreshed from the server since."""
        return self._reachable

    @property
    def problem(self) -> str:
        """Why the source is not reachable (for the screen); "" when it is."""
        return self._problem

    # -- lifetime --------------------------------------------------------------------------

    def start(self) -> None:
        """Start keeping the conditions on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"conditions-{self.device.name}")

    async def stop(self) -> None:
        """Stop and close the session within a bounded time."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=DISCONNECT_TIMEOUT + 1.0)
        await self._disconnect()
        self._set_reachable(False, "stopped")

    async def _run(self) -> None:
        while True:
            try:
                await self._connect()
                await self._subscribe()
                self._backoff.reset()
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = self._describe(exc)
                if not isinstance(exc, CommError | OSError | TimeoutError | UaError):
                    _log.exception("conditions of %s failed", self.device.name)
                await self._disconnect()
                self._set_reachable(False, reason)
                delay = self._backoff.next_delay()
                _log.warning("%s alarms & conditions: %s; retrying in %.1f s",
                             self.device.name, reason, delay)
                await asyncio.sleep(delay)

    # -- the session and the subscription -----------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, self.device)

    async def _connect(self) -> None:
        await self._disconnect()
        interval = max(1.0, self.device.timeout)
        client = Client(url=self.device.endpoint, timeout=self.device.timeout,
                        watchdog_intervall=interval)
        client.session_timeout = SESSION_TIMEOUT_MS
        self._lost = asyncio.Event()
        self._lost_reason = ""
        client.connection_lost_callback = self._on_connection_lost
        self._client = client
        await open_session(client, self.device, self._pki_dir, self._password_provider)

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        self._subscription_id = 0
        if client is None:
            return
        await close_session(client)

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._mark_lost(f"connection lost ({self._describe(exc)})")

    def _mark_lost(self, reason: str) -> None:
        if self._lost is not None and not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _subscribe(self) -> None:
        client = self._client
        assert client is not None
        period = max(0.05, min(self.device.poll_interval, 1.0)) * 1000.0
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=period,
            RequestedLifetimeCount=10000,
            RequestedMaxKeepAliveCount=client.get_keepalive_count(period),
            MaxNotificationsPerPublish=10000,
            PublishingEnabled=True,
            Priority=0,
        )
        subscription = _EventSubscription(client, params, self._on_event, self._on_status)
        try:
            await asyncio.wait_for(subscription.init(), timeout=self.device.timeout * 2)
        except UaStatusCodeError as exc:
            raise CommError(f"the server refused the event subscription: "
                            f"{ua.StatusCode(exc.code).name}") from exc
        parameters = ua.MonitoringParameters(ClientHandle=1, SamplingInterval=0.0,
                                             QueueSize=EVENT_QUEUE_SIZE, DiscardOldest=True,
                                             Filter=event_filter())
        request = ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=ns0(_O.Server),
                                         AttributeId=AttributeIds.EventNotifier),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=parameters,
        )
        results = await asyncio.wait_for(subscription.create_monitored_items([request]),
                                         timeout=self.device.timeout * 2)
        if isinstance(results[0], ua.StatusCode):
            raise CommError(f"the server refused to send its events: {results[0].name} "
                            "(does it implement Alarms & Conditions?)")
        self._subscription_id = int(subscription.subscription_id or 0)
        await self._refresh()

    async def _refresh(self) -> None:
        """ConditionRefresh, then wait for its RefreshEndEvent (the list is then whole)."""
        client = self._client
        assert client is not None
        self._refreshed = refreshed = asyncio.Event()
        request = ua.CallMethodRequest(
            ObjectId=ns0(_O.ConditionType),
            MethodId=ns0(_O.ConditionType_ConditionRefresh),
            InputArguments=[ua.Variant(self._subscription_id, ua.VariantType.UInt32)],
        )
        results = await asyncio.wait_for(client.uaclient.call([request]),
                                         timeout=self.device.timeout * 2)
        code = results[0].StatusCode
        if not code.is_good():
            raise CommError(f"the server refused ConditionRefresh: {code.name} "
                            "(does it implement Alarms & Conditions?)")
        limit = max(5.0, self.device.timeout * 4)
        try:
            await asyncio.wait_for(refreshed.wait(), timeout=limit)
        except TimeoutError:
            raise CommError(f"the server did not finish ConditionRefresh within {limit:g} s") \
                from None

    async def _watch(self) -> None:
        """Return (by raising CommError) once the connection or subscription is dead."""
        client, lost = self._client, self._lost
        assert client is not None
        assert lost is not None
        interval = max(0.2, self.device.timeout)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=interval)
            if lost.is_set():
                raise CommError(self._lost_reason or "connection lost")
            try:
                await client.check_connection()
            except ConnectionError as exc:
                raise CommError(f"connection lost ({exc})") from exc

    def _on_status(self, status: ua.StatusChangeNotification) -> None:
        code = status.Status
        if code is not None and not code.is_good():
            self._mark_lost(f"the server dropped the event subscription ({code.name})")

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, fields: list[Any]) -> None:
        if len(fields) != len(FIELDS):
            return
        event_type = fields[INDEX["EventType"]]
        type_id = event_type.Identifier if isinstance(event_type, ua.NodeId) else None
        if type_id == REFRESH_START:
            self._fresh = {}
        elif type_id == REFRESH_END:
            self._end_refresh()
        elif type_id in (REFRESH_REQUIRED, QUEUE_OVERFLOW):
            asyncio.get_running_loop().create_task(self._refresh_again(), name="refresh")
        elif not is_null(fields[INDEX["ConditionId"]]):
            self._on_condition(fields)

    def _on_condition(self, fields: list[Any]) -> None:
        if not is_null(fields[INDEX["BranchId"]]):
            return  # a previous state's branch: the list shows the condition's trunk
        node_id: ua.NodeId = fields[INDEX["ConditionId"]]
        condition = self._condition_from(node_id, fields)
        event_id = fields[INDEX["EventId"]]
        event_id = bytes(event_id) if isinstance(event_id, bytes | bytearray) else b""
        retained = bool(fields[INDEX["Retain"]])
        key = condition.condition_id
        if self._fresh is not None:  # inside a refresh: collect the server's set
            if retained:
                self._fresh[key] = (condition, event_id, node_id)
            else:
                self._fresh.pop(key, None)
            return
        if retained:
            self._conditions[key] = condition
            self._event_ids[key], self._node_ids[key] = event_id, node_id
            self._fire(changed=(condition,))
        elif key in self._conditions:
            self._forget(key)
            self._fire(removed=(condition,))

    def _condition_from(self, node_id: ua.NodeId, fields: list[Any]) -> ServerCondition:
        severity = fields[INDEX["Severity"]]
        severity = min(1000, max(1, int(severity))) if isinstance(severity, int) else 1
        confirmed = fields[INDEX["ConfirmedState/Id"]]
        enabled = fields[INDEX["EnabledState/Id"]]
        return ServerCondition(
            device=self.device.name,
            condition_id=node_id.to_string(),
            name=text_of(fields[INDEX["ConditionName"]]),
            source_name=text_of(fields[INDEX["SourceName"]]),
            message=text_of(fields[INDEX["Message"]]),
            severity=severity,
            priority=priority_for_severity(severity),
            active=bool(fields[INDEX["ActiveState/Id"]]),
            acked=bool(fields[INDEX["AckedState/Id"]]),
            confirmed=None if confirmed is None else bool(confirmed),
            shelved=shelved_name(fields[INDEX["ShelvingState/CurrentState"]],
                             fields[INDEX["ShelvingState/CurrentState/Id"]]),
            enabled=True if enabled is None else bool(enabled),
            time=seconds_of(fields[INDEX["Time"]], self._clock()),
            comment=text_of(fields[INDEX["Comment"]]),
        )

    def _end_refresh(self) -> None:
        fresh, self._fresh = self._fresh or {}, None
        removed = tuple(c for key, c in self._conditions.items() if key not in fresh)
        changed = tuple(c for key, (c, _e, _n) in fresh.items() if self._conditions.get(key) != c)
        self._conditions = {key: c for key, (c, _e, _n) in fresh.items()}
        self._event_ids = {key: e for key, (_c, e, _n) in fresh.items()}
        self._node_ids = {key: n for key, (_c, _e, n) in fresh.items()}
        if self._refreshed is not None:
            self._refreshed.set()
        self._reachable, self._problem = True, ""
        self._fire(changed=changed, removed=removed, always=True)

    async def _refresh_again(self) -> None:
        try:
            await self._refresh()
        except Exception as exc:
            self._mark_lost(f"refresh failed ({self._describe(exc)})")

    def _forget(self, key: str) -> None:
        self._conditions.pop(key, None)
        self._event_ids.pop(key, None)
        self._node_ids.pop(key, None)

    def _set_reachable(self, reachable: bool, problem: str) -> None:
        if (reachable, problem) == (self._reachable, self._problem):
            return
        self._reachable, self._problem = reachable, problem
        self._fire(always=True)

    def _fire(self, changed: tuple[ServerCondition, ...] = (),
              removed: tuple[ServerCondition, ...] = (), always: bool = False) -> None:
        if changed or removed or always:
            self.changes.fire(ConditionChanges(self.device.name, changed, removed,
                                               self._reachable, self._problem))

    # -- what people do ----------------------------------------------------------------------

    async def acknowledge(self, condition_id: str, comment: str = "") -> str:
        """Acknowledge the condition's latest event; "" or why it was not."""
        return await self._condition_method(condition_id, "acknowledge",
                                            _O.AcknowledgeableConditionType_Acknowledge, comment)

    async def confirm(self, condition_id: str, comment: str = "") -> str:
        """Confirm the condition's latest event; "" or why it was not."""
        return await self._condition_method(condition_id, "confirm",
                                            _O.AcknowledgeableConditionType_Confirm, comment)

    async def shelve(self, condition_id: str, seconds: float) -> str:
        """TimedShelve for ``seconds``; "" or why not (the server may cap the length)."""
        argument = ua.Variant(float(seconds) * 1000.0, ua.VariantType.Double)  # a Duration
        return await self._shelving_method(condition_id, "shelve", "TimedShelve", [argument])

    async def unshelve(self, condition_id: str) -> str:
        return await self._shelving_method(condition_id, "unshelve", "Unshelve", [])

    def _unusable(self, condition_id: str) -> str:
        if self._client is None or not self._reachable:
            return f"{self.device.name} is not reachable" + (
                f" ({self._problem})" if self._problem else "")
        if condition_id not in self._conditions:
            return f"{self.device.name} has no alarm {condition_id} (no longer retained)"
        return ""

    async def _condition_method(self, condition_id: str, what: str, method: int,
                                comment: str) -> str:
        why = self._unusable(condition_id)
        if why:
            return why
        for attempt in range(2):
            event_id = self._event_ids[condition_id]
            arguments = [ua.Variant(event_id, ua.VariantType.ByteString),
                         ua.Variant(ua.LocalizedText(comment), ua.VariantType.LocalizedText)]
            said = await self._call(what, self._node_ids[condition_id], ns0(method),
                                    arguments)
            # The condition's latest event may still be on its way (a shelve, another
            # station's comment): once it is here, answer to it instead.
            if attempt or "BadEventIdUnknown" not in said or not await self._newer_event(
                    condition_id, event_id):
                return said
        return said

    async def _newer_event(self, condition_id: str, event_id: bytes) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.device.timeout
        while loop.time() < deadline:
            if self._event_ids.get(condition_id, event_id) != event_id:
                return True
            await asyncio.sleep(0.02)
        return False

    async def _shelving_method(self, condition_id: str, what: str, method: str,
                               arguments: list[ua.Variant]) -> str:
        why = self._unusable(condition_id)
        if why:
            return why
        client = self._client
        assert client is not None
        condition = client.get_node(self._node_ids[condition_id])
        try:
            machine = await asyncio.wait_for(condition.get_child("0:ShelvingState"),
                                             timeout=self.device.timeout)
            method_node = await asyncio.wait_for(machine.get_child(f"0:{method}"),
                                                 timeout=self.device.timeout)
        except UaStatusCodeError as exc:
            if ua.StatusCode(exc.code).name == "BadNoMatch":
                return f"{what}: the server offers no shelving for this alarm"
            return refusal_text(what, exc.code)
        except (TimeoutError, OSError, UaError) as exc:
            return f"the {what} did not reach {self.device.name}: {self._describe(exc)}"
        return await self._call(what, machine.nodeid, method_node.nodeid, arguments)

    async def _call(self, what: str, object_id: ua.NodeId, method_id: ua.NodeId,
                    arguments: list[ua.Variant]) -> str:
        client = self._client
        if client is None:
            return f"{self.device.name} is not reachable ({self._problem})"
        request = ua.CallMethodRequest(ObjectId=object_id, MethodId=method_id,
                                       InputArguments=arguments)
        try:
            results = await asyncio.wait_for(client.uaclient.call([request]),
                                             timeout=self.device.timeout)
        except UaStatusCodeError as exc:
            return refusal_text(what, exc.code)
        except (TimeoutError, OSError, UaError) as exc:
            return f"the {what} did not reach {self.device.name}: {self._describe(exc)}"
        code = results[0].StatusCode
        if code.is_good():
            return ""
        return refusal_text(what, code)
