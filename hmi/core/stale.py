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

    At plant scale (55,000 tags, checked twice a second on the device loop) a check
    must not visit every tag: GOOD values wait in insertion-ordered dicts, oldest update
    first, so a check of per-tag rules stops at the first value too young to be stale,
    and a device's per-device tags are looked at only once the device itself is silent.
    """

    def __init__(self, rules: Iterable[StaleRule]) -> None:
        self._rules = {rule.tag: rule for rule in rules}
        self._alive: dict[str, float] = {}
        self._marked: dict[str, Sample] = {}  # tag -> the stale copy we returned
        self._by_tag: dict[str, Sample] = {}  # StaleBasis.TAG candidates, oldest first
        self._by_device: dict[str, dict[str, Sample]] = {}  # StaleBasis.DEVICE ones
        self._bucket: dict[str, dict[str, Sample]] = {}  # tag -> where it waits
        self._device_limit: dict[str, float] = {}  # shortest DEVICE limit per device
        tag_limits = [math.inf]
        for rule in self._rules.values():
            if rule.basis is StaleBasis.TAG:
                self._bucket[rule.tag] = self._by_tag
                tag_limits.append(rule.limit)
            else:
                self._bucket[rule.tag] = self._by_device.setdefault(rule.device, {})
                shortest = self._device_limit.get(rule.device, math.inf)
                self._device_limit[rule.device] = min(shortest, rule.limit)
        self._tag_limit = min(tag_limits)  # no TAG value younger than this can be stale
        # Values arrive nearly in time order (each device stamps its own reads); a value
        # up to ``_slack`` older than one before it still keeps the early stop correct.
        # Anything further out of order (a slow serial scan, the clock set back) makes
        # the next check look at every value and put them in order again.
        self._slack = self._tag_limit / 2 if math.isfinite(self._tag_limit) else 0.0
        self._tail = -math.inf  # the newest receive time among the TAG values
        self._unordered = False

    def observe(self, samples: Iterable[Sample]) -> None:
        rules, buckets, marked = self._rules, self._bucket, self._marked
        by_tag = self._by_tag
        newest: dict[str, float] = {}
        for sample in samples:
            tag = sample.tag
            bucket = buckets.get(tag)
            if bucket is None:
                continue
            if marked:
                if marked.get(tag) is sample:
                    continue
                marked.pop(tag, None)
            bucket.pop(tag, None)  # re-inserted at the end: the order stays oldest first
            when = sample.receive_time
            if sample.quality is Quality.GOOD:
                bucket[tag] = sample
                if bucket is by_tag:
                    if when < self._tail - self._slack:
                        self._unordered = True
                    elif when > self._tail:
                        self._tail = when
            device = rules[tag].device
            if when > newest.get(device, -math.inf):
                newest[device] = when
        for device, when in newest.items():
            self.touch(device, when)

    def touch(self, device: str, when: float) -> None:
        """The device delivered something at ``when`` (data, keep-alive, an answer)."""
        if when > self._alive.get(device, -math.inf):
            self._alive[device] = when

    def _reorder(self) -> None:
        """Put the TAG values back in time order (in place: ``_bucket`` refers to it)."""
        ordered = sorted(self._by_tag.values(), key=lambda sample: sample.receive_time)
        self._by_tag.clear()
        self._by_tag.update((sample.tag, sample) for sample in ordered)
        self._tail = ordered[-1].receive_time if ordered else -math.inf
        self._unordered = False

    def alive_at(self, device: str) -> float | None:
        return self._alive.get(device)

    def check(self, now: float) -> list[Sample]:
        """The UNCERTAIN copies to publish now for tags that just went stale."""
        expired: list[tuple[dict[str, Sample], Sample, float]] = []
        rules = self._rules
        if self._unordered:
            self._reorder()
        for sample in self._by_tag.values():
            age = now - sample.receive_time
            if age <= self._tag_limit - self._slack:
                break  # everything after it arrived later, give or take the slack
            if age > rules[sample.tag].limit:
                expired.append((self._by_tag, sample, age))
        for device, bucket in self._by_device.items():
            alive = self._alive.get(device, -math.inf)
            if not bucket or now - alive <= self._device_limit[device]:
                continue  # the device itself spoke lately: all its values hold
            for sample in bucket.values():
                age = now - max(sample.receive_time, alive)
                if age > rules[sample.tag].limit:
                    expired.append((bucket, sample, age))
        stale: list[Sample] = []
        for bucket, sample, age in expired:
            del bucket[sample.tag]
            copy = replace(sample, quality=Quality.UNCERTAIN, detail=stale_detail(age))
            self._marked[sample.tag] = copy
            stale.append(copy)
        return stale
