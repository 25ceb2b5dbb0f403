"""The worker's one OPC UA subscription: a monitored item per (node, sampling, deadband).

Each tag asks for its own sampling interval (its scan class, else the device's poll
interval) and, for numeric tags with a deadband, an absolute DataChangeFilter so the
server sends only changes larger than it. Tags that share all three share an item.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
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


class _Handler:
    """asyncua's callback interface, forwarding by client handle."""

    def __init__(
        self,
        on_change: Callable[[int, ua.DataValue], None],
        on_status: Callable[[ua.StatusChangeNotification], None],
    ) -> None:
        self._on_change = on_change
        self._on_status = on_status

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self._on_change(data.subscription_data.client_handle, data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        self._on_status(status)


@dataclass(slots=True)
class ActiveSubscription:
    subscription: Subscription
    items: dict[int, MonitoredItemPlan]  # client handle -> plan
    failed: list[tuple[MonitoredItemPlan, str]]  # plan, why the server refused its item


async def subscribe(
    client: Client,
    plans: list[MonitoredItemPlan],
    publishing_interval: float,
    on_change: Callable[[int, ua.DataValue], None],
    on_status: Callable[[ua.StatusChangeNotification], None],
) -> ActiveSubscription:
    """Create the subscription and its items; SubscriptionRefusedError if the server won't."""
    try:
        subscription = await client.create_subscription(
            publishing_interval * 1000.0, _Handler(on_change, on_status)
        )
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
