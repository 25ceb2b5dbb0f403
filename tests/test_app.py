"""hmi.app's garbage-collector settling, called in-process (the demo smoke test checks that
the composition root calls it)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hmi.app import FULL_COLLECTION_EVERY, settle_gc


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfreeze_after() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the rest of the test session keeps its ordinary collector
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("unfreeze_after")
def test_settle_gc_freezes_what_lives_and_first_collects_what_does_not() -> None:
    kept = [_Node() for _ in range(100)]  # start-up state the app keeps
    garbage, partner = _Node(), _Node()  # a cycle nothing refers to any more
    garbage.other, partner.other = partner, garbage
    gone = weakref.ref(garbage)
    del garbage, partner
    gc.disable()  # no automatic collection between here and the call
    try:
        settle_gc()
    finally:
        gc.enable()
    assert gone() is None, "the cycle was frozen instead of collected: leaked for good"
    assert gc.get_freeze_count() >= len(kept)
    walked = {id(obj) for obj in gc.get_objects()}  # generations 0-2, not the frozen
    assert not any(id(node) in walked for node in kept)


@pytest.mark.usefixtures("unfreeze_after")
def test_settle_gc_makes_full_collections_rarer_and_leaves_the_young_ones() -> None:
    young, middle, _old = gc.get_threshold()
    settle_gc()
    assert gc.get_threshold() == (young, middle, FULL_COLLECTION_EVERY)
    assert FULL_COLLECTION_EVERY > 10
