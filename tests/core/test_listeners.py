"""Listeners: every callback is told, in order; one that raises is logged and the others
are still told; removing is idempotent."""

from __future__ import annotations

import logging

import pytest

from hmi.core.listeners import Listeners


def test_every_listener_is_told_even_after_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    told: list[str] = []
    listeners: Listeners[[str]] = Listeners("test")

    def broken(_what: str) -> None:
        raise RuntimeError("listener bug")

    listeners.add(lambda what: told.append(f"a:{what}"))
    listeners.add(broken)
    remove = listeners.add(lambda what: told.append(f"c:{what}"))
    with caplog.at_level(logging.ERROR):
        listeners.fire("x")
    assert told == ["a:x", "c:x"]
    assert "test listener" in caplog.text
    remove()
    remove()  # twice is harmless
    listeners.fire("y")
    assert told == ["a:x", "c:x", "a:y"]
    assert len(listeners) == 2
