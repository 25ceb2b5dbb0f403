"""Stale detection: a value not refreshed within its expected period turns UNCERTAIN.

Pure and clock-free: the caller feeds the samples it sees and the current time, and
publishes what ``check`` returns. Two ways a tag is judged:

- per tag (polled tags): the tag's own last sample is older than
  2 scan periods + the device timeout;
- per device (OPC UA subscriptions, and polled tags with a deadband, which are only
  published on change): nothing at all arrived from the device (no sample of any of its
  tags, no keep-alive ``touch``) for the limit (3 publishing intervals + the timeout).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, Site, Tag

POLL_PERIODS = 2  # a polled tag may miss one scan before it is stale
PUBLISH_PERIODS = 3  # OPC UA: a subscription keeps alive at least this often


class StaleBasis(enum.Enum):
    TAG = "tag"  # the tag's own updates must keep coming
    DEVICE = "device"  # anything from the device proves the value still holds


@dataclass(frozen=True, slots=True)
class StaleRule:
    tag: str
    device: str
    limit: float  # seconds without a refresh before the value is stale
    basis: StaleBasis


def stale_rule(tag: Tag, device: Device) -> StaleRule:
    """The expected refresh period of a tag, from its scan class or its device."""
    subscribed = device.kind is DeviceKind.OPCUA and device.subscriptions
    if subscribed:
        limit = PUBLISH_PERIODS * device.poll_interval + device.timeout
        return StaleRule(tag.name, device.name, limit, StaleBasis.DEVICE)
    period = tag.scan_interval or device.poll_interval
    limit = POLL_PERIODS * period + device.timeout
    basis = StaleBasis.DEVICE if tag.deadband > 0 else StaleBasis.TAG
    return StaleRule(tag.name, device.name, limit, basis)


def site_rules(site: Site) -> list[StaleRule]:
    devices = {device.name: device for device in site.devices}
    return [stale_rule(tag, devices[tag.device]) for tag in site.tags if tag.device in devices]


def stale_detail(age: float) -> str:
    return f"stale: no update for {math.floor(age):.0f} s"


class StaleWatcher:
    """Remembers each tag's last sample and each device's last sign of life.

    ``check`` returns, once per silence, an UNCERTAIN copy of each GOOD value gone
    stale (same value and source time, detail "stale: no update for N s"). BAD stays
    BAD. The copies it returns are recognised if they come back through ``observe``
    and do not count as a refresh.
    """

    def __init__(self, rules: Iterable[StaleRule]) -> None:
        self._rules = {rule.tag: rule for rule in rules}
        self._last: dict[str, Sample] = {}
        self._alive: dict[str, float] = {}
        self._marked: dict[str, Sample] = {}  # tag -> the stale copy we returned

    def observe(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            rule = self._rules.get(sample.tag)
            if rule is None or self._marked.get(sample.tag) is sample:
                continue
            self._last[sample.tag] = sample
            self._marked.pop(sample.tag, None)
            self.touch(rule.device, sample.receive_time)

    def touch(self, device: str, when: float) -> None:
        """The device delivered something at ``when`` (data, keep-alive, an answer)."""
        if when > self._alive.get(device, -math.inf):
            self._alive[device] = when

    def alive_at(self, device: str) -> float | None:
        return self._alive.get(device)

    def check(self, now: float) -> list[Sample]:
        """The UNCERTAIN copies to publish now for tags that just went stale."""
        stale: list[Sample] = []
        for tag, sample in self._last.items():
            if tag in self._marked or sample.quality is not Quality.GOOD:
                continue
            rule = self._rules[tag]
            last = sample.receive_time
            if rule.basis is StaleBasis.DEVICE:
                last = max(last, self._alive.get(rule.device, last))
            age = now - last
            if age > rule.limit:
                copy = replace(sample, quality=Quality.UNCERTAIN, detail=stale_detail(age))
                self._marked[tag] = copy
                stale.append(copy)
        return stale
