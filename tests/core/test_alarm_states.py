"""The ISA-18.2 state machine (hmi.core.alarm_states): every state x every event, the
refusals and their reasons, shelving's limits, and invariants over random sequences."""

from __future__ import annotations

import random

import pytest

from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmState, step

NOW = 1_700_000_000.0
E = AlarmEvent
S = AlarmState
R = "refused"

STARTS = {  # a representative alarm in each state (and the latching variants)
    "normal": Alarm(),
    "unacked": Alarm(active=True, acked=False),
    "acked": Alarm(active=True, acked=True),
    "rtn unacked": Alarm(active=False, acked=False),
    "latched, unacked": Alarm(latching=True, latched=True, acked=False),
    "latched, acked": Alarm(latching=True, latched=True, acked=True),
    "latching, active": Alarm(latching=True, latched=True, active=True, acked=False),
    "shelved, normal": Alarm(shelved_until=NOW),
    "shelved, active": Alarm(shelved_until=NOW, active=True, acked=False),
    "suppressed, active": Alarm(suppressed=True, active=True, acked=False),
    "out of service, active": Alarm(out_of_service=True, active=True, acked=False),
}

EVENTS = list(AlarmEvent)
# columns in EVENTS order: ACTIVATE CLEAR ACK RESET SHELVE UNSHELVE SHELVE_EXPIRED
#                          SUPPRESS UNSUPPRESS REMOVE_FROM_SERVICE RETURN_TO_SERVICE
SH, SU, OOS = S.SHELVED, S.SUPPRESSED, S.OUT_OF_SERVICE
TABLE = {
    "normal": [S.UNACKED, R, R, R, SH, R, R, SU, R, OOS, R],
    "unacked": [R, S.RTN_UNACKED, S.ACKED, R, SH, R, R, SU, R, OOS, R],
    "acked": [R, S.NORMAL, R, R, SH, R, R, SU, R, OOS, R],
    "rtn unacked": [S.UNACKED, R, S.NORMAL, R, SH, R, R, SU, R, OOS, R],
    "latched, unacked": [S.UNACKED, R, S.LATCHED, S.NORMAL, SH, R, R, SU, R, OOS, R],
    "latched, acked": [S.UNACKED, R, R, S.NORMAL, SH, R, R, SU, R, OOS, R],
    "latching, active": [R, S.LATCHED, S.ACKED, R, SH, R, R, SU, R, OOS, R],
    # manual unshelve of an active alarm: acknowledged; the automatic one: unacknowledged
    "shelved, normal": [SH, R, R, R, SH, S.NORMAL, S.NORMAL, SU, R, OOS, R],
    "shelved, active": [R, SH, R, R, SH, S.ACKED, S.UNACKED, SU, R, OOS, R],
    "suppressed, active": [R, SU, R, R, SU, R, R, R, S.UNACKED, OOS, R],
    "out of service, active": [R, OOS, R, R, R, R, R, OOS, R, R, S.UNACKED],
}


def test_every_state_is_represented_and_every_cell_is_written():
    assert {alarm.state for alarm in STARTS.values()} == set(AlarmState)
    assert set(TABLE) == set(STARTS)
    assert all(len(row) == len(EVENTS) for row in TABLE.values())


@pytest.mark.parametrize("start", list(STARTS))
@pytest.mark.parametrize("event", EVENTS, ids=[e.name for e in EVENTS])
def test_every_state_times_every_event(start, event):
    alarm = STARTS[start]
    expected = TABLE[start][EVENTS.index(event)]
    result = step(alarm, event, now=NOW, until=NOW + 600, max_shelve_s=3600)
    if expected == R:
        assert not result.ok
        assert result.refused  # a reason, in words
        assert result.after is alarm  # nothing changed
        assert not result.recorded
    else:
        assert result.ok, result.refused
        assert result.after.state is expected
        assert result.recorded


def test_refusals_say_why():
    def why(alarm, event, **kw):
        return step(alarm, event, now=NOW, **kw).refused

    assert why(Alarm(), E.ACK) == "normal: nothing to acknowledge"
    assert why(STARTS["acked"], E.ACK) == "already acknowledged"
    assert why(STARTS["shelved, active"], E.ACK) == "shelved: nothing to acknowledge"
    assert why(STARTS["unacked"], E.RESET) == "not a latching alarm: nothing to reset"
    assert why(STARTS["latching, active"], E.RESET) == (
        "the condition is still present: reset when the process is normal")
    assert why(Alarm(), E.SHELVE, until=NOW + 7200, max_shelve_s=3600) == (
        "a shelve may last at most 60 min (asked: 2 h)")
    assert why(Alarm(), E.SHELVE, until=NOW) == "a shelve needs an end in the future"
    assert why(Alarm(), E.SHELVE) == "a shelve needs an end in the future"
    assert why(STARTS["out of service, active"], E.SHELVE, until=NOW + 60) == (
        "out of service: return it to service before shelving it")
    assert why(Alarm(shelved_until=NOW + 60), E.SHELVE_EXPIRED) == (
        "the shelve has not expired yet")


def test_a_shelve_within_the_cap_is_kept_with_its_end_and_may_be_changed():
    shelved = step(Alarm(), E.SHELVE, now=NOW, until=NOW + 3600, max_shelve_s=3600).after
    assert shelved.shelved_until == NOW + 3600
    shorter = step(shelved, E.SHELVE, now=NOW + 10, until=NOW + 600).after
    assert shorter.shelved_until == NOW + 600
    assert step(shorter, E.SHELVE_EXPIRED, now=NOW + 599).refused
    assert step(shorter, E.SHELVE_EXPIRED, now=NOW + 600).after.state is S.NORMAL


def test_coming_back_from_one_handling_to_another_keeps_the_other():
    both = Alarm(shelved_until=NOW, suppressed=True, active=True, acked=False)
    assert both.state is S.SUPPRESSED  # suppressed by design shows over shelved
    unshelved = step(both, E.UNSHELVE, now=NOW).after
    assert unshelved.state is S.SUPPRESSED
    assert step(unshelved, E.UNSUPPRESS).after.state is S.UNACKED
    out = step(both, E.REMOVE_FROM_SERVICE).after
    assert out.shelved_until is None  # a shelve ends when the alarm leaves service
    assert step(out, E.RETURN_TO_SERVICE).after.state is S.SUPPRESSED


def test_a_latching_alarm_latches_again_when_it_comes_back_active():
    shelved = Alarm(latching=True, shelved_until=NOW)
    active = step(shelved, E.ACTIVATE).after
    back = step(active, E.SHELVE_EXPIRED, now=NOW).after
    assert back.state is S.UNACKED
    assert back.latched
    assert step(back, E.CLEAR).after.state is S.LATCHED
    quiet = step(step(active, E.CLEAR).after, E.SHELVE_EXPIRED, now=NOW).after
    assert quiet.state is S.NORMAL  # went and came while shelved: nothing to reset


def test_an_activation_while_shelved_is_recorded_but_not_annunciated():
    result = step(STARTS["shelved, normal"], E.ACTIVATE)
    assert result.recorded
    assert not result.changed
    assert not result.after.state.annunciated


def test_random_sequences_keep_the_invariants():
    rng = random.Random(7)
    for _ in range(300):
        alarm = Alarm(latching=rng.random() < 0.5)
        now = NOW
        for _ in range(60):
            now += rng.choice([0.0, 30.0, 700.0])
            event = rng.choice(EVENTS)
            result = step(alarm, event, now=now, until=now + rng.choice([-1, 300, 5000]),
                          max_shelve_s=3600)
            after = result.after
            if not result.ok:
                assert after is alarm
            state = after.state
            if state.annunciated:
                assert not after.handled
            if state is S.NORMAL:
                assert after.acked
                assert not after.active
                assert not after.latched
            if after.latched:
                assert after.latching
            if after.shelved_until is not None:
                assert not after.out_of_service
            if event is E.ACK and result.ok:
                assert after.acked
            alarm = after
