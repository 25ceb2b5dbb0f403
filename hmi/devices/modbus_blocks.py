"""Scan classes and split-on-exception reading of coalesced Modbus blocks.

A coalesced block that a PLC refuses (say, one unmapped register inside it) must not
blind the operator to its other tags. The block is bisected until the refused tags are
found; they go BAD with the exception named and the rest keep updating. The split is
remembered, and the bad tags are re-probed every PROBE_INTERVAL seconds by going back
to the full plan, so a PLC program download that maps them is noticed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hmi.core.samples import Sample
from hmi.core.site import Device, Tag
from hmi.devices.modbus_codec import (
    ADDRESS_EXCEPTIONS,
    ReadBlock,
    address_of,
    block_of,
    describe_exception,
    plan_blocks,
)

PROBE_INTERVAL = 30.0  # seconds between re-reads of tags a PLC refused


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What one block read gave: samples for its tags, or the exception code that
    refused it (samples then empty for address exceptions, BAD for the others)."""

    samples: list[Sample]
    exception: int | None = None


BlockReader = Callable[[ReadBlock], Awaitable[BlockResult]]


@dataclass(frozen=True, slots=True)
class BlockLimits:
    max_registers: int
    max_bits: int
    max_gap: int

    @classmethod
    def of(
        cls,
        device: Device,
        max_registers: int | None = None,
        max_bits: int | None = None,
        max_gap: int | None = None,
    ) -> BlockLimits:
        """The device's limits (capped at the spec's), unless overridden."""
        return cls(
            max_registers if max_registers is not None else min(125, device.max_registers),
            max_bits if max_bits is not None else min(2000, device.max_bits),
            max_gap if max_gap is not None else device.max_gap,
        )


@dataclass(slots=True)
class ScanClass:
    """Tags polled at one interval, with their current block plan."""

    interval: float
    tags: tuple[Tag, ...]
    limits: BlockLimits
    plan: list[ReadBlock] = field(default_factory=list)
    bad: dict[str, tuple[Tag, str]] = field(default_factory=dict)  # name -> (tag, detail)
    next_due: float = 0.0  # loop time
    next_probe: float = 0.0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the fully coalesced plan, forgetting refused tags."""
        limits = self.limits
        self.plan = plan_blocks(self.tags, limits.max_registers, limits.max_bits, limits.max_gap)
        self.bad = {}

    async def read(self, read_block: BlockReader, now: float, loop_time: float) -> list[Sample]:
        """Read every block of the plan once; CommError from ``read_block`` propagates."""
        if self.bad and loop_time >= self.next_probe:
            self.reset()
        samples: list[Sample] = []
        plan: list[ReadBlock] = []
        split = False
        for block in self.plan:
            result = await read_block(block)
            if result.exception not in ADDRESS_EXCEPTIONS:
                samples.extend(result.samples)
                plan.append(block)
                continue
            split = True
            assert result.exception is not None
            await _bisect(block, result.exception, read_block, samples, plan, self.bad)
        if split:
            self.plan = plan
            self.next_probe = loop_time + PROBE_INTERVAL
        samples.extend(Sample.bad(tag.name, detail, now) for tag, detail in self.bad.values())
        return samples


async def _bisect(
    block: ReadBlock,
    code: int,
    read_block: BlockReader,
    samples: list[Sample],
    plan: list[ReadBlock],
    bad: dict[str, tuple[Tag, str]],
) -> None:
    """Find the tags of a refused block whose own registers are refused."""
    if len(block.tags) == 1:
        tag = block.tags[0]
        bad[tag.name] = (tag, f"modbus: {describe_exception(code)} at {address_of(tag)}")
        return
    half = len(block.tags) // 2
    for part in (block.tags[:half], block.tags[half:]):
        sub = block_of(part)
        result = await read_block(sub)
        if result.exception in ADDRESS_EXCEPTIONS:
            assert result.exception is not None
            await _bisect(sub, result.exception, read_block, samples, plan, bad)
        else:
            samples.extend(result.samples)
            plan.append(sub)


def scan_classes(device: Device, tags: Sequence[Tag], limits: BlockLimits) -> list[ScanClass]:
    """One scan class per distinct interval: Tag.scan_interval, else the device's."""
    by_interval: dict[float, list[Tag]] = {}
    for tag in tags:
        interval = tag.scan_interval or device.poll_interval
        by_interval.setdefault(interval, []).append(tag)
    return [
        ScanClass(interval, tuple(members), limits)
        for interval, members in sorted(by_interval.items())
    ]
