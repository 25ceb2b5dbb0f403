"""The worker's one OPC UA subscription: a monitored item per (node, sampling, deadband).

Each tag asks for its own sampling interval (its scan class, else the device's poll
interval) and, for numeric tags with a deadband, an absolute DataChangeFilter so the
server sends only changes larger than it. Tags that share all three share an item.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaStatusCodeError

from hmi.core.site import Tag

FILTER_REFUSED = {
    "BadFilterNotAllowed",
    "BadMonitoredItemFilterUnsupported",
    "BadMonitoredItemFilterInvalid",
    "BadDeadbandFilterInvalid",
}


class SubscriptionRefusedError(Exception):
    """The server will not create the subscription or its items: poll instead."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True, slots=True)
class MonitoredItemPlan:
    node_id: ua.NodeId
    sampling_interval: float  # seconds
    deadband: float  # absolute, engineering units; 0 means every change
    tags: tuple[Tag, ...]

    def describe(self) -> str:
        text = f"{self.node_id.to_string()} every {self.sampling_interval:g} s"
        return text + (f", deadband {self.deadband:g}" if self.deadband else "")


def sampling_interval(tag: Tag, default: float) -> float:
    return tag.scan_interval if tag.scan_interval else default


def plan_items(nodes: Mapping[Tag, ua.NodeId], default_interval: float) -> list[MonitoredItemPlan]:
    grouped: dict[tuple[ua.NodeId, float, float], list[Tag]] = {}
    for tag, node_id in nodes.items():
        deadband = tag.deadband if tag.deadband > 0 and tag.data_type.is_numeric else 0.0
        key = (node_id, sampling_interval(tag, default_interval), deadband)
        grouped.setdefault(key, []).append(tag)
    return [MonitoredItemPlan(n, s, d, tuple(tags)) for (n, s, d), tags in grouped.items()]


def _request(plan: MonitoredItemPlan, handle: int) -> ua.MonitoredItemCreateRequest:
    parameters = ua.MonitoringParameters()
    parameters.ClientHandle = handle
    parameters.SamplingInterval = plan.sampling_interval * 1000.0
    parameters.QueueSize = 1
    parameters.DiscardOldest = True
    if plan.deadband:
        flt = ua.DataChangeFilter()
        flt.Trigger = ua.DataChangeTrigger.StatusValue
        flt.DeadbandType = ua.DeadbandType.Absolute
        flt.DeadbandValue = plan.deadband
        parameters.Filter = flt
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=plan.node_id, AttributeId=AttributeIds.Value)
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = parameters
    return request


Changes = list[tuple[int, ua.DataValue]]  # (client handle, value) of one publish response


class _BatchSubscription(Subscription):
    """Hands each publish response to us as one batch.

    asyncua's handler path makes one task and one call per notification: at 5,000
    items that is 5,000 tasks a publish and a stalled GUI loop. Here a response is one
    call, and the worker publishes it to the bus as one batch.
    """

    def __init__(
        self,
        client: Client,
        params: ua.CreateSubscriptionParameters,
        on_changes: Callable[[Changes], None],
        on_status: Callable[[ua.StatusChangeNotification], None],
    ) -> None:
        super().__init__(client.uaclient.session, params, None, queue_maxsize=1)
        self._on_changes = on_changes
        self._on_status = on_status

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        message = publish_result.NotificationMessage
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        changes: Changes = []
        for notification in message.NotificationData:
            if isinstance(notification, ua.DataChangeNotification):
                changes.extend((i.ClientHandle, i.Value) for i in notification.MonitoredItems)
            elif isinstance(notification, ua.StatusChangeNotification):
                self._on_status(notification)
        count = len(changes)
        self._observe(lambda: self.server.observer.on_notification(self.subscription_id, count))
        if changes:
            self._on_changes(changes)


def _parameters(client: Client, publishing_interval: float) -> ua.CreateSubscriptionParameters:
    """As asyncua's Client.create_subscription fills them."""
    period = publishing_interval * 1000.0
    params = ua.CreateSubscriptionParameters()
    params.RequestedPublishingInterval = period
    params.RequestedLifetimeCount = 10000
    params.RequestedMaxKeepAliveCount = client.get_keepalive_count(period)
    params.MaxNotificationsPerPublish = 10000
    params.PublishingEnabled = True
    params.Priority = 0
    return params


@dataclass(slots=True)
class ActiveSubscription:
    subscription: Subscription
    items: dict[int, MonitoredItemPlan]  # client handle -> plan
    failed: list[tuple[MonitoredItemPlan, str]]  # plan, why the server refused its item


async def subscribe(
    client: Client,
    plans: list[MonitoredItemPlan],
    publishing_interval: float,
    on_changes: Callable[[Changes], None],
    on_status: Callable[[ua.StatusChangeNotification], None],
) -> ActiveSubscription:
    """Create the subscription and its items; SubscriptionRefusedError if the server won't."""
    subscription = _BatchSubscription(
        client, _parameters(client, publishing_interval), on_changes, on_status
    )
    try:
        await subscription.init()
    except UaStatusCodeError as exc:
        raise SubscriptionRefusedError(ua.StatusCode(exc.code).name) from exc
    requests = [_request(plan, handle) for handle, plan in enumerate(plans, start=1)]
    try:
        results = await subscription.create_monitored_items(requests)
    except UaStatusCodeError as exc:
        with contextlib.suppress(Exception):
            await subscription.delete()
        raise SubscriptionRefusedError(ua.StatusCode(exc.code).name) from exc
    items: dict[int, MonitoredItemPlan] = {}
    failed: list[tuple[MonitoredItemPlan, str]] = []
    for handle, (plan, result) in enumerate(zip(plans, results, strict=True), start=1):
        if isinstance(result, ua.StatusCode):
            reason = f"opcua: {result.name} subscribing {plan.node_id.to_string()}"
            if result.name in FILTER_REFUSED:
                reason += f" (the server refuses deadband {plan.deadband:g}: set deadband = 0)"
            failed.append((plan, reason))
        else:
            items[handle] = plan
    return ActiveSubscription(subscription, items, failed)
