"""The [[alarms]] blocks and [alarming]: every kind of alarm from the site file, and every
mistake named at file:line with what to write instead."""

from __future__ import annotations

import pytest

from hmi.config import parse_site
from hmi.core.alarm_rules import AlarmKind, Guidance, Priority
from hmi.core.site import AlarmSettings
from tests.config.minimal_site import BASE, errors_of

TAGS = """
[[tags]]
name = "Level"
device = "plc1"
table = "holding_register"
address = 2
type = "float32"

[[tags]]
name = "Setpoint"
device = "plc1"
table = "holding_register"
address = 4
type = "float32"

[[tags]]
name = "State"
device = "plc1"
table = "holding_register"
address = 6
type = "string"
length = 4

[[tags]]
name = "Fault"
device = "plc1"
table = "coil"
address = 0
type = "bool"
"""


def site_with(*blocks: str) -> str:
    """BASE, four more tags, then the blocks (each a [[alarms]] body)."""
    return BASE + TAGS + "".join(f"\n[[alarms]]\n{block.strip()}\n" for block in blocks)


def line_of(text: str, needle: str, occurrence: int = -1) -> int:
    """The 1-based line of the n-th line containing ``needle`` (the last by default: the
    alarm blocks come last)."""
    found = [k for k, line in enumerate(text.splitlines(), 1) if needle in line]
    return found[occurrence if occurrence < 0 else occurrence - 1]


def test_every_kind_reaches_the_site_with_its_settings():
    text = site_with(
        '''name = "Level.High"
tag = "Level"
type = "hi"
limit = 80
deadband = 2
on_delay = 5
off_delay = 1.5
priority = "high"
message = "Tank level high"
area = "Filling"
equipment = "Tank 1"
cause = "Inlet valve stuck open"
consequence = "Overflow in 10 min"
action = "Close the inlet valve by hand"
latching = true''',
        'name = "Level.HighHigh"\ntag = "Level"\ntype = "hihi"\nlimit = 90\n'
        'priority = "critical"',
        'name = "Level.Low"\ntag = "Level"\ntype = "lo"\nlimit = 20',
        'name = "Level.LowLow"\ntag = "Level"\ntype = "lolo"\nlimit = 10\npriority = "low"',
        'name = "Fault"\ntag = "Fault"\ntype = "discrete"\nwhen = true\n'
        'suppress_when = "Speed < 1 and not Fault"',
        'name = "State.Stopped"\ntag = "State"\ntype = "discrete"\nwhen = ["STOP", "FAULT"]',
        'name = "Level.Deviation"\ntag = "Level"\ntype = "deviation"\nlimit = 5\n'
        'setpoint_tag = "Setpoint"',
        'name = "Level.Rate"\ntag = "Level"\ntype = "rate"\nlimit = 0.5',
        'name = "Level.Bad"\ntag = "Level"\ntype = "bad_quality"',
        'name = "plc1.Comm"\ndevice = "plc1"\ntype = "bad_quality"\npriority = "high"',
    )
    site = parse_site(text, "site.toml")
    alarms = {alarm.name: alarm for alarm in site.alarms}
    assert len(alarms) == 10
    high = alarms["Level.High"]
    assert (high.tag, high.kind, high.limit, high.deadband) == ("Level", AlarmKind.HI, 80, 2)
    assert (high.on_delay, high.off_delay, high.priority) == (5, 1.5, Priority.HIGH)
    assert (high.message, high.area, high.equipment, high.latching) == (
        "Tank level high", "Filling", "Tank 1", True)
    assert high.guidance == Guidance("Inlet valve stuck open", "Overflow in 10 min",
                                     "Close the inlet valve by hand")
    assert alarms["Level.Low"].priority is Priority.MEDIUM  # the default
    assert alarms["Level.Low"].message == "Level.Low"  # the name when no message
    assert alarms["Fault"].states == (True,)
    assert alarms["Fault"].suppress_when == "Speed < 1 and not Fault"
    assert alarms["State.Stopped"].states == ("STOP", "FAULT")
    assert alarms["Level.Deviation"].tags == ("Level", "Setpoint")
    assert (alarms["plc1.Comm"].device, alarms["plc1.Comm"].tag) == ("plc1", "")
    assert site.alarm_settings == AlarmSettings()


def test_alarming_settings():
    text = site_with() + '\n[alarming]\nmax_shelve_minutes = 60\n' \
        'ack_comment_required = ["critical", "high"]\n'
    assert parse_site(text).alarm_settings == AlarmSettings(60, ("critical", "high"))
    bad = site_with() + '\n[alarming]\nmax_shelve_minutes = 0\nack_comment_required = ' \
        '["urgent"]\nhorn = 1\n'
    errors = errors_of(bad)
    assert errors == [
        f"site.toml:{line_of(bad, 'horn')}: unknown key 'horn' in [alarming]; allowed: "
        "ack_comment_required, max_shelve_minutes, positions",
        f"site.toml:{line_of(bad, 'max_shelve')}: max_shelve_minutes = 0 is out of range; "
        "allowed a number 1..10080",
        f"site.toml:{line_of(bad, 'ack_comment')}: alarming.ack_comment_required: unknown "
        "priority 'urgent'; allowed: critical, high, medium, low",
    ]


@pytest.mark.parametrize(("block", "needle", "message"), [
    ('name = "A"\ntag = "Nope"\ntype = "hi"\nlimit = 1', 'tag = "Nope"',
     "alarm 'A': tag 'Nope' is not a defined tag"),
    ('name = "A"\ntype = "hi"\nlimit = 1', "[[alarms]]",
     "alarm 'A': tag = is required: the tag it watches"),
    ('name = "A"\ntag = "Level"\ntype = "hi"', "[[alarms]]",
     "alarm 'A': a hi alarm needs limit = a number"),
    ('name = "A"\ntag = "Level"\ntype = "high"\nlimit = 1', "type =",
     "unknown alarm type 'high'; allowed: 'hihi', 'hi', 'lo', 'lolo', 'discrete', "
     "'deviation', 'rate', 'bad_quality'"),
    ('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1\npriority = "urgent"', "priority",
     "unknown priority 'urgent'; allowed: 'critical', 'high', 'medium', 'low'"),
    ('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1\non_delay = -1', "on_delay",
     "on_delay = -1 is out of range; allowed a number 0..3600"),
    ('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1\noff_delay = "2s"', "off_delay",
     "off_delay = '2s' is out of range; allowed a number 0..3600"),
    ('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1\ndeadband = -0.5', "deadband",
     "deadband = -0.5 is out of range; allowed a number 0..1e+12"),
    ('name = "A"\ntag = "Fault"\ntype = "discrete"', "[[alarms]]",
     "alarm 'A': a discrete alarm needs when = the abnormal state: true (a bit ON), a "
     'number, a text, or a list, e.g. when = ["FAULT", "STOP"]'),
    ('name = "A"\ntag = "Fault"\ntype = "discrete"\nwhen = true\nlimit = 1', "limit",
     "alarm 'A': a discrete alarm has no limit"),
    ('name = "A"\ntag = "Level"\ntype = "deviation"\nlimit = 2', "[[alarms]]",
     "alarm 'A': a deviation alarm needs setpoint_tag = the tag it is compared with"),
    ('name = "A"\ntag = "Level"\ntype = "deviation"\nlimit = 2\nsetpoint_tag = "SP"',
     "setpoint_tag", "alarm 'A': setpoint_tag 'SP' is not a defined tag"),
    ('name = "A"\ntag = "State"\ntype = "hi"\nlimit = 1', "type =",
     "alarm 'A': a hi alarm needs a number, and tag 'State' holds text; use type = "
     '"discrete" with when = the texts that are abnormal'),
    ('name = "A"\ntag = "Fault"\ntype = "discrete"\nwhen = true\nsuppress_when = '
     '"Speed <"', "suppress_when",
     "alarm 'A': suppress_when does not read: the condition ends where a tag or a value "
     'was expected; e.g. suppress_when = "not Line.Running"'),
    ('name = "A"\ntag = "Fault"\ntype = "discrete"\nwhen = true\nsuppress_when = '
     '"not Line.Running"', "suppress_when",
     "alarm 'A': suppress_when names 'Line.Running', which is not a defined tag"),
    ('name = "A"\ndevice = "plc9"\ntype = "bad_quality"', "device",
     "alarm 'A': device 'plc9' is not a defined device; defined: plc1"),
    ('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1\nsiren = true', "siren",
     "unknown key 'siren' in [[alarms]]; allowed: action, area, cause, consequence, "
     "deadband, device, equipment, latching, limit, message, name, off_delay, on_delay, "
     "priority, setpoint_tag, suppress_when, tag, type, when"),
])
def test_a_mistake_is_named_at_its_line(block, needle, message):
    text = site_with(block)
    assert errors_of(text) == [f"site.toml:{line_of(text, needle)}: {message}"]


def test_limits_on_one_tag_must_be_in_order():
    text = site_with(
        'name = "Lo"\ntag = "Level"\ntype = "lo"\nlimit = 50',
        'name = "Hi"\ntag = "Level"\ntype = "hi"\nlimit = 40',
        'name = "HiHi"\ntag = "Level"\ntype = "hihi"\nlimit = 30',
    )
    assert errors_of(text) == [
        f"site.toml:{line_of(text, 'limit = 40')}: alarm 'Hi': its HI limit 40 on 'Level' is "
        "below the LO limit 50 of alarm 'Lo'; on one tag LOLO <= LO < HI <= HIHI",
        f"site.toml:{line_of(text, 'limit = 30')}: alarm 'HiHi': its HIHI limit 30 on "
        "'Level' is below the HI limit 40 of alarm 'Hi'; on one tag LOLO <= LO < HI <= HIHI",
    ]
    equal = site_with('name = "Lo"\ntag = "Level"\ntype = "lo"\nlimit = 50',
                      'name = "Hi"\ntag = "Level"\ntype = "hi"\nlimit = 50')
    assert len(errors_of(equal)) == 1  # LO == HI would be both at once
    same = site_with('name = "Hi"\ntag = "Level"\ntype = "hi"\nlimit = 50',
                     'name = "HiHi"\ntag = "Level"\ntype = "hihi"\nlimit = 50')
    assert parse_site(same).alarms  # HI == HIHI is allowed


def test_a_duplicate_name_is_named_at_the_second():
    text = site_with('name = "A"\ntag = "Level"\ntype = "hi"\nlimit = 1',
                     'name = "A"\ntag = "Level"\ntype = "lo"\nlimit = 0')
    second = line_of(text, 'name = "A"', 2)
    assert errors_of(text) == [
        f"site.toml:{second}: duplicate alarm name 'A': names must be unique"]


def test_every_mistake_is_reported_in_one_pass():
    text = site_with('name = "A"\ntag = "Nope"\ntype = "hi"\nlimit = 1',
                     'name = "B"\ntag = "Level"\ntype = "hi"\non_delay = -3')
    assert len(errors_of(text)) == 3  # unknown tag; B: no limit, negative delay
