"""When an alarm's condition holds (hmi.core.alarm_rules.Condition): each kind's limit
test, the deadband on the way back, on- and off-delays ended by a sample or a tick,
BAD samples, deviation from a set-point tag, rate of change."""

from __future__ import annotations

import pytest

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Condition, Priority
from hmi.core.samples import Quality, Sample

T = 1_700_000_000.0


def rule(kind: AlarmKind, **kw) -> AlarmRule:
    return AlarmRule(name="A", tag="X", kind=kind, priority=Priority.HIGH, message="m",
                     **kw)


def s(value, t: float, tag: str = "X", quality: Quality = Quality.GOOD) -> Sample:
    return Sample(tag, value, quality, T + t, T + t)


def run(condition: Condition, values) -> list:
    """The changes (True/False) after each (value, t) in turn."""
    return [condition.observe(s(v, t)) for v, t in values]


@pytest.mark.parametrize(("kind", "limit", "inside", "beyond"), [
    (AlarmKind.HI, 80.0, 80.0, 80.1),  # more than the limit: a value at it is normal
    (AlarmKind.HIHI, 90.0, 89.0, 95.0),
    (AlarmKind.LO, 20.0, 20.0, 19.9),
    (AlarmKind.LOLO, 10.0, 11.0, 0.0),
])
def test_analog_limits(kind, limit, inside, beyond):
    condition = Condition(rule(kind, limit=limit))
    assert run(condition, [(inside, 0), (beyond, 1), (beyond, 2), (inside, 3)]) == [
        None, True, None, False]


def test_the_deadband_holds_the_alarm_until_the_value_is_back_past_it():
    condition = Condition(rule(AlarmKind.HI, limit=80.0, deadband=2.0))
    changes = run(condition, [(81, 0), (79, 1), (78.5, 2), (80.5, 3), (78, 4), (80.5, 5)])
    assert changes == [True, None, None, None, False, True]
    low = Condition(rule(AlarmKind.LO, limit=20.0, deadband=1.0))
    assert run(low, [(19, 0), (20.5, 1), (21, 2)]) == [True, None, False]


def test_on_delay_needs_the_condition_that_long_and_a_tick_ends_it_without_a_sample():
    condition = Condition(rule(AlarmKind.HI, limit=80.0, on_delay=5.0))
    assert run(condition, [(90, 0), (90, 3)]) == [None, None]
    assert condition.tick(T + 4.9) is None
    assert condition.tick(T + 5.0) is True  # held 5 s: active, though no sample came
    assert condition.active
    blip = Condition(rule(AlarmKind.HI, limit=80.0, on_delay=5.0))
    assert run(blip, [(90, 0), (70, 2), (90, 4)]) == [None, None, None]
    assert blip.tick(T + 8) is None  # the delay started again at 4
    assert blip.tick(T + 9) is True


def test_off_delay_needs_the_condition_gone_that_long():
    condition = Condition(rule(AlarmKind.LO, limit=20.0, off_delay=10.0))
    assert run(condition, [(10, 0), (30, 1), (10, 5), (30, 6)]) == [True, None, None, None]
    assert condition.tick(T + 15.9) is None
    assert condition.tick(T + 16) is False


def test_a_bad_sample_leaves_a_value_alarm_as_it_was_and_raises_a_quality_alarm():
    value = Condition(rule(AlarmKind.HI, limit=80.0))
    quality = Condition(rule(AlarmKind.BAD_QUALITY))
    for condition in (value, quality):
        condition.observe(s(90, 0))
    assert value.active
    assert not quality.active
    bad = s(None, 1, quality=Quality.BAD)
    assert value.observe(bad) is None
    assert value.active  # unknown: not cleared by a lost connection
    assert quality.observe(bad) is True
    assert quality.observe(s(50, 2)) is False
    assert value.observe(s(50, 2)) is False
    stale = s(50, 3, quality=Quality.UNCERTAIN)
    assert quality.observe(stale) is None  # only BAD raises it


@pytest.mark.parametrize(("states", "values", "expected"), [
    ((True,), [False, True, 1, 0], [None, True, None, False]),  # a bit, or a 0/1 register
    (("FAULT", "STOP"), ["RUN", "FAULT", "STOP", "RUN"], [None, True, None, False]),
    ((3,), [1, 3.0, 2], [None, True, False]),
])
def test_discrete_states(states, values, expected):
    condition = Condition(rule(AlarmKind.DISCRETE, states=states))
    assert run(condition, [(v, k) for k, v in enumerate(values)]) == expected


def test_deviation_from_a_setpoint_tag_follows_both_tags():
    condition = Condition(rule(AlarmKind.DEVIATION, limit=5.0, setpoint_tag="SP"))
    assert condition.observe(s(50, 0)) is None  # no set-point known yet
    assert condition.observe(s(52, 1, tag="SP")) is None
    assert condition.observe(s(60, 2)) is True  # 8 away
    assert condition.observe(s(58, 3, tag="SP")) is False  # the set-point moved: 2 away
    assert condition.observe(s(40, 4, tag="OTHER")) is None


def test_rate_of_change_per_second():
    condition = Condition(rule(AlarmKind.RATE, limit=2.0))
    assert run(condition, [(10, 0), (11, 1), (20, 2), (21, 3)]) == [None, None, True, False]


def test_tags_a_rule_reads():
    assert rule(AlarmKind.DEVIATION, limit=1.0, setpoint_tag="SP").tags == ("X", "SP")
    assert rule(AlarmKind.HI, limit=1.0).tags == ("X",)
    assert [p.rank for p in Priority] == [0, 1, 2, 3]


def test_rate_ignores_samples_out_of_time_order_and_clears_when_the_tag_goes_quiet():
    condition = Condition(rule(AlarmKind.RATE, limit=5.0))
    assert [condition.observe(s(0.0, 10)), condition.observe(s(100.0, 5)),
            condition.observe(s(0.0, 11))] == [None, None, None]  # the late one: no rate
    jump = Condition(rule(AlarmKind.RATE, limit=5.0))
    assert [jump.observe(s(0.0, 10)), jump.observe(s(100.0, 10)),
            jump.observe(s(100.0, 11))] == [None, None, True]  # same time: seen at the next
    assert jump.tick(T + 11.5) is None  # not quiet yet (twice the last gap, 1 s at least)
    assert jump.tick(T + 13) is False  # no sample since: the value stands still, rate 0


def test_a_deviation_is_not_judged_on_a_value_gone_bad():
    condition = Condition(rule(AlarmKind.DEVIATION, limit=0.5, setpoint_tag="SP"))
    assert condition.observe(s(2.5, 1, tag="SP")) is None
    assert condition.observe(s(2.6, 2)) is None
    assert condition.observe(s(None, 3, quality=Quality.BAD)) is None
    assert condition.observe(s(3.5, 4, tag="SP")) is None  # the value is unknown now
    assert condition.observe(s(2.6, 5)) is True  # known again, and away from 3.5


def test_delays_run_on_this_stations_clock_not_the_plcs():
    """A PLC clock 30 s behind must not end a 10 s on-delay at the first tick."""
    condition = Condition(rule(AlarmKind.HI, limit=80.0, on_delay=10.0))
    late_stamp = Sample("X", 90.0, Quality.GOOD, T - 30, T)  # source 30 s behind
    assert condition.observe(late_stamp) is None
    assert condition.tick(T + 5) is None
    assert condition.tick(T + 10) is True
