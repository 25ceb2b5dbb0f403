"""StaleWatcher: polled tags by their own period, subscribed tags by device liveness."""

from __future__ import annotations

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import (
    Device,
    DeviceKind,
    ModbusAddress,
    OpcUaAddress,
    RegisterTable,
    Site,
    Tag,
)
from hmi.core.stale import StaleBasis, StaleWatcher, site_rules, stale_rule

HR = RegisterTable.HOLDING_REGISTER
PLC = Device("plc", DeviceKind.MODBUS_TCP, poll_interval=1.0, timeout=0.5)
UA = Device("ua", DeviceKind.OPCUA, endpoint="opc.tcp://127.0.0.1:1/", poll_interval=0.5,
            timeout=2.0)
FAST = Tag("Fast", "plc", ModbusAddress(HR, 0), DataType.UINT16)
SLOW = Tag("Slow", "plc", ModbusAddress(HR, 1), DataType.UINT16, scan_interval=10.0)
BANDED = Tag("Banded", "plc", ModbusAddress(HR, 2), DataType.UINT16, deadband=1.0)
TORQUE = Tag("Torque", "ua", OpcUaAddress("ns=2;s=T"), DataType.FLOAT64)
STATE = Tag("State", "ua", OpcUaAddress("ns=2;s=S"), DataType.STRING)
SITE = Site("s", (PLC, UA), (FAST, SLOW, BANDED, TORQUE, STATE))


def good(tag: str, value: float | str, at: float) -> Sample:
    return Sample(tag, value, Quality.GOOD, at, at)


def test_limits_follow_scan_class_device_period_and_publishing_interval() -> None:
    assert stale_rule(FAST, PLC).limit == 2 * 1.0 + 0.5
    assert stale_rule(SLOW, PLC).limit == 2 * 10.0 + 0.5
    assert stale_rule(FAST, PLC).basis is StaleBasis.TAG
    assert stale_rule(BANDED, PLC).basis is StaleBasis.DEVICE  # published only on change
    rule = stale_rule(TORQUE, UA)
    assert (rule.limit, rule.basis) == (3 * 0.5 + 2.0, StaleBasis.DEVICE)
    polled = Device("ua2", DeviceKind.OPCUA, poll_interval=0.5, timeout=2.0,
                    subscriptions=False)
    assert stale_rule(TORQUE, polled).basis is StaleBasis.TAG


def test_polled_tag_goes_uncertain_once_with_its_last_value_and_recovers() -> None:
    watcher = StaleWatcher(site_rules(SITE))
    watcher.observe([good("Fast", 7, 100.0), good("Slow", 8, 100.0)])
    assert watcher.check(102.4) == []
    [stale] = watcher.check(103.0)
    assert (stale.tag, stale.value, stale.quality) == ("Fast", 7, Quality.UNCERTAIN)
    assert stale.detail == "stale: no update for 3 s"
    assert stale.source_time == 100.0
    assert watcher.check(104.0) == []  # published once per silence
    watcher.observe([stale])  # our own copy coming back through the bus is no refresh
    assert watcher.check(105.0) == []
    watcher.observe([good("Fast", 9, 105.0)])
    assert watcher.check(106.0) == []
    assert [s.tag for s in watcher.check(107.6)] == ["Fast"]
    assert [s.tag for s in watcher.check(121.0)] == ["Slow"]


def test_bad_is_never_turned_into_uncertain() -> None:
    watcher = StaleWatcher(site_rules(SITE))
    watcher.observe([Sample.bad("Fast", "comm: connection refused", 100.0)])
    assert watcher.check(1000.0) == []


def test_subscribed_tags_stay_good_while_the_device_delivers_anything() -> None:
    watcher = StaleWatcher(site_rules(SITE))
    watcher.observe([good("Torque", 1.5, 100.0), good("State", "run", 100.0)])
    for t in (101.0, 102.0, 103.0, 104.0):  # Torque changes; State never does
        watcher.observe([good("Torque", t, t)])
        assert watcher.check(t + 0.1) == []
    watcher.touch("ua", 107.0)  # a keep-alive, no data change
    assert watcher.check(110.0) == []
    stale = watcher.check(110.6)  # 3 x 0.5 + 2.0 = 3.5 s after the keep-alive
    assert {s.tag for s in stale} == {"Torque", "State"}
    assert all(s.detail == "stale: no update for 3 s" for s in stale)


def test_deadband_tag_is_kept_fresh_by_its_device_neighbours() -> None:
    watcher = StaleWatcher(site_rules(SITE))
    watcher.observe([good("Banded", 5, 100.0)])
    watcher.observe([good("Fast", 1, 110.0)])
    assert [s.tag for s in watcher.check(111.0)] == []
    assert {s.tag for s in watcher.check(113.0)} == {"Fast", "Banded"}


def test_unknown_tags_are_ignored() -> None:
    watcher = StaleWatcher(site_rules(SITE))
    watcher.observe([good("Nope", 1, 0.0)])
    assert watcher.check(1e9) == []


def test_at_scale_exactly_the_silent_tags_go_stale() -> None:
    """10,000 polled tags of 10 devices: the ones no scan refreshed go stale, no others
    (a check stops at the first value too young to be stale, oldest first)."""
    devices = tuple(Device(f"plc{d}", DeviceKind.MODBUS_TCP, poll_interval=1.0, timeout=0.5)
                    for d in range(10))
    tags = tuple(Tag(f"P{d}.R{i}", f"plc{d}", ModbusAddress(HR, i), DataType.UINT16)
                 for d in range(10) for i in range(1_000))
    watcher = StaleWatcher(site_rules(Site("big", devices, tags)))
    watcher.observe([good(t.name, 1, 100.0) for t in tags])
    silent = {t.name for t in tags if hash(t.name) % 7 == 0}
    for d in range(10):  # each device's scan refreshes all but the silent ones
        watcher.observe([good(t.name, 2, 101.0 + d / 10) for t in tags
                         if t.device == f"plc{d}" and t.name not in silent])
    assert watcher.check(102.4) == []
    assert {s.tag for s in watcher.check(102.6)} == silent
    assert watcher.check(102.7) == []
    assert len(watcher.check(105.0)) == len(tags) - len(silent)


def test_values_out_of_time_order_are_still_judged_right() -> None:
    """The clock set back 600 s (NTP): a slow-scan value stamped before the step must
    not hide a fast one whose updates stopped after it."""
    quiet = Tag("Quiet", "plc", ModbusAddress(HR, 3), DataType.UINT16, scan_interval=1800.0)
    watcher = StaleWatcher(site_rules(Site("s", (PLC,), (FAST, quiet))))
    watcher.observe([good("Quiet", 1, 10_000.0), good("Fast", 1, 10_000.0)])
    watcher.observe([good("Fast", 2, 9_401.0)])  # after the step back; then it stops
    assert [s.tag for s in watcher.check(9_404.0)] == ["Fast"]
