"""The alarm engine as a consumer of the data path, on a real SQLite file: raise,
acknowledge and clear journalled; after a restart nothing is raised twice and an expired
shelve ends at once; a flood is journalled whole; a store that refuses loses nothing;
suppression by design; a device's communication."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.samples import Quality, Sample
from hmi.core.site import AlarmSettings
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.services.alarms import AlarmEngine
from hmi.store.alarms import AlarmRepository
from hmi.store.database import StoreError, open_database

HIGH = AlarmRule("Level.High", "Level", AlarmKind.HI, Priority.HIGH, "Level high", limit=80.0)


def sample(tag: str, value, quality: Quality = Quality.GOOD) -> Sample:
    now = time.time()
    return Sample(tag, value, quality, now, now)


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Station:
    """A bus, a runner and an engine on a SQLite file, as the runtime wires them."""

    def __init__(self, folder: Path, rules, *, tick: float = 0.05) -> None:
        self.db = open_database(folder / "hmi.db")
        self.repo = AlarmRepository(self.db)
        self.bus = TagBus()
        self.runner = ConsumerRunner(self.bus)
        self.engine = AlarmEngine(rules, AlarmSettings(), self.repo, tick=tick)
        self.runner.add(self.engine, overflow=self.engine.overflow,
                        maxsize=self.engine.queue_size, tags=self.engine.tags)

    async def __aenter__(self) -> Station:
        self.runner.start()
        await until(lambda: self.engine._loaded)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.stop()
        self.db.close()

    def state(self, name: str) -> AlarmState:
        return self.engine.record(name).alarm.state

    def journal(self):
        return [(row.name, row.event, row.after) for row in self.repo.journal()]


def test_raise_acknowledge_and_clear_are_journalled_with_who_and_the_value(tmp_path):
    async def scenario() -> None:
        async with Station(tmp_path, [HIGH]) as station:
            station.bus.put([sample("Level", 50.0), sample("Other", 99.0)])
            station.bus.put([sample("Level", 90.5)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            steps = await station.engine.act(["Level.High"], AlarmEvent.ACK, user="maria",
                                             comment="seen, valve closing")
            assert steps["Level.High"].ok
            assert station.state("Level.High") is AlarmState.ACKED
            again = await station.engine.act(["Level.High"], AlarmEvent.ACK, user="maria")
            assert again["Level.High"].refused == "already acknowledged"
            station.bus.put([sample("Level", 70.0)])
            await until(lambda: station.state("Level.High") is AlarmState.NORMAL)
            await until(lambda: len(station.repo.journal()) == 3)
            rows = station.repo.journal()
        assert [(r.event, r.after, r.user) for r in rows] == [
            (AlarmEvent.ACTIVATE, AlarmState.UNACKED, "system"),
            (AlarmEvent.ACK, AlarmState.ACKED, "maria"),
            (AlarmEvent.CLEAR, AlarmState.NORMAL, "system"),
        ]
        assert rows[0].value == "90.5"
        assert rows[1].comment == "seen, valve closing"
        assert {r.occurrence for r in rows} == {1}

    asyncio.run(scenario())


def test_after_a_restart_an_active_alarm_is_not_raised_again_and_clears_normally(tmp_path):
    async def scenario() -> None:
        async with Station(tmp_path, [HIGH]) as station:
            station.bus.put([sample("Level", 95.0)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
        async with Station(tmp_path, [HIGH]) as station:  # the restart
            assert station.state("Level.High") is AlarmState.UNACKED  # as it was
            station.bus.put([sample("Level", 96.0)])  # still high: the same occurrence
            await asyncio.sleep(0.3)
            assert station.journal() == [
                ("Level.High", AlarmEvent.ACTIVATE, AlarmState.UNACKED)]
            station.bus.put([sample("Level", 10.0)])
            await until(lambda: station.state("Level.High") is AlarmState.RTN_UNACKED)
            station.bus.put([sample("Level", 95.0)])  # a new occurrence
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            await until(lambda: len(station.repo.journal()) == 3)
            assert [r.occurrence for r in station.repo.journal()] == [1, 1, 2]

    asyncio.run(scenario())


def test_a_shelve_that_expired_during_a_restart_ends_within_a_second_of_start(tmp_path):
    async def scenario() -> None:
        async with Station(tmp_path, [HIGH]) as station:
            station.bus.put([sample("Level", 95.0)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            result = await station.engine.act(["Level.High"], AlarmEvent.SHELVE, user="tom",
                                              comment="sensor being replaced",
                                              until=time.time() + 0.5)
            assert result["Level.High"].ok
            refused = await station.engine.act(["Level.High"], AlarmEvent.SHELVE,
                                               user="tom", until=time.time() + 9 * 3600)
            assert refused["Level.High"].refused.startswith("a shelve may last at most 8 h")
        await asyncio.sleep(0.6)  # the station is down when the shelve ends
        started = time.monotonic()
        async with Station(tmp_path, [HIGH], tick=0.5) as station:
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            assert time.monotonic() - started < 1.0
            await until(lambda: station.engine.pending == 0)
            assert station.journal()[-1] == (
                "Level.High", AlarmEvent.SHELVE_EXPIRED, AlarmState.UNACKED)

    asyncio.run(scenario())


def test_a_flood_of_a_thousand_alarms_in_a_second_is_journalled_whole(tmp_path):
    rules = [AlarmRule(f"A{k:04d}", f"T{k:04d}", AlarmKind.HI, Priority.LOW, "m", limit=1.0)
             for k in range(1000)]

    async def scenario() -> None:
        async with Station(tmp_path, rules) as station:
            for k in range(0, 1000, 100):
                station.bus.put([sample(f"T{j:04d}", 5.0) for j in range(k, k + 100)])
                await asyncio.sleep(0.05)
            await until(lambda: len(station.repo.journal()) == 1000, timeout=10)
            assert station.engine.pending == 0
        assert {row[2] for row in station.journal()} == {AlarmState.UNACKED}

    asyncio.run(scenario())


def test_transitions_the_store_refuses_are_kept_and_written_when_it_takes_them(tmp_path):
    async def scenario() -> None:
        async with Station(tmp_path, [HIGH]) as station:
            with station.db.engine.begin() as connection:
                connection.exec_driver_sql(
                    "CREATE TRIGGER full BEFORE INSERT ON alarm_journal "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            station.bus.put([sample("Level", 95.0)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            with pytest.raises(StoreError):  # an operator's action is refused at once
                await station.engine.act(["Level.High"], AlarmEvent.ACK, user="maria")
            assert station.state("Level.High") is AlarmState.UNACKED  # nothing changed
            await asyncio.sleep(0.3)
            assert station.engine.pending == 1  # the data path's: kept
            assert station.repo.journal() == []
            with station.db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TRIGGER full")
            station.engine._retry_at = 0.0  # do not wait the 2 s retry in a test
            await until(lambda: station.engine.pending == 0)
            assert [row[1] for row in station.journal()] == [AlarmEvent.ACTIVATE]

    asyncio.run(scenario())


def test_suppression_by_design_follows_its_condition_and_the_alarm_comes_back_unacked(
        tmp_path):
    rule = AlarmRule("Level.High", "Level", AlarmKind.HI, Priority.HIGH, "Level high",
                     limit=80.0, suppress_when="not Running")

    async def scenario() -> None:
        async with Station(tmp_path, [rule]) as station:
            assert station.engine.tags == {"Level", "Running"}
            station.bus.put([sample("Running", False), sample("Level", 95.0)])
            await until(lambda: station.state("Level.High") is AlarmState.SUPPRESSED)
            assert station.engine.record("Level.High").alarm.active  # followed, not shown
            station.bus.put([sample("Running", True)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            await until(lambda: station.engine.pending == 0)
            assert [row[1] for row in station.journal()] == [
                AlarmEvent.SUPPRESS, AlarmEvent.ACTIVATE, AlarmEvent.UNSUPPRESS]

    asyncio.run(scenario())


def test_a_devices_communication_alarm_follows_its_connection(tmp_path):
    rule = AlarmRule("plc1.Comm", "", AlarmKind.BAD_QUALITY, Priority.HIGH,
                     "PLC 1 not answering", device="plc1")

    async def scenario() -> None:
        async with Station(tmp_path, [rule]) as station:
            now = time.time()
            station.engine.on_device_status(DeviceStatus(
                "plc1", ConnectionState.DISCONNECTED, now, "connection refused"))
            await until(lambda: station.state("plc1.Comm") is AlarmState.UNACKED)
            station.engine.on_device_status(DeviceStatus("plc1", ConnectionState.CONNECTED,
                                                         now + 1))
            await until(lambda: station.state("plc1.Comm") is AlarmState.RTN_UNACKED)
            station.engine.on_device_status(DeviceStatus("plc2", ConnectionState.DISCONNECTED,
                                                         now + 2))
            for quiet in (ConnectionState.CONNECTING, ConnectionState.STOPPED):
                station.engine.on_device_status(DeviceStatus("plc1", quiet, now + 3))
                await asyncio.sleep(0.05)
                assert station.state("plc1.Comm") is AlarmState.RTN_UNACKED  # no news
            await until(lambda: station.engine.pending == 0)
            rows = station.repo.journal()
            assert [(r.event, r.value) for r in rows] == [
                (AlarmEvent.ACTIVATE, "disconnected: connection refused"),
                (AlarmEvent.CLEAR, "connected")]

    asyncio.run(scenario())


def test_a_connection_reported_before_the_states_are_back_is_applied_after(tmp_path):
    """The device thread may say a PLC is unreachable before the engine has read the
    states from the store (the station starting): the alarm is raised once they are."""
    rule = AlarmRule("plc1.Comm", "", AlarmKind.BAD_QUALITY, Priority.HIGH, "PLC 1",
                     device="plc1")

    async def scenario() -> None:
        station = Station(tmp_path, [rule])
        now = time.time()
        station.engine.on_device_status(DeviceStatus("plc1", ConnectionState.CONNECTED, now))
        station.engine.on_device_status(DeviceStatus(
            "plc1", ConnectionState.DISCONNECTED, now + 1, "connection refused"))
        await asyncio.sleep(0.05)  # before the runner starts: nothing to apply it to yet
        async with station:
            await until(lambda: station.state("plc1.Comm") is AlarmState.UNACKED)
            await until(lambda: station.engine.pending == 0)
            assert [(r.event, r.value) for r in station.repo.journal()] == [
                (AlarmEvent.ACTIVATE, "disconnected: connection refused")]

    asyncio.run(scenario())


def test_a_deviation_alarm_follows_its_value_and_its_setpoint_tags(tmp_path):
    """One condition reads both tags: a set-point that moves away raises it as surely as
    a value that does."""
    rule = AlarmRule("Torque.Deviation", "Torque", AlarmKind.DEVIATION, Priority.MEDIUM,
                     "Torque off its set-point", limit=0.5, setpoint_tag="Torque.SP")

    async def scenario() -> None:
        async with Station(tmp_path, [rule]) as station:
            assert station.engine.tags == {"Torque", "Torque.SP"}
            station.bus.put([sample("Torque.SP", 2.5), sample("Torque", 2.6)])
            await asyncio.sleep(0.2)
            assert station.state("Torque.Deviation") is AlarmState.NORMAL
            station.bus.put([sample("Torque.SP", 3.5)])  # the set-point moved
            await until(lambda: station.state("Torque.Deviation") is AlarmState.UNACKED)
            station.bus.put([sample("Torque", 3.4)])  # the value followed
            await until(lambda: station.state("Torque.Deviation") is AlarmState.RTN_UNACKED)

    asyncio.run(scenario())


def test_an_operators_action_writes_what_the_store_had_refused_first(tmp_path):
    """The data path's ACTIVATE waits for a retry when the operator acknowledges: both go
    in one transaction, in order, so the state row is the acknowledgement's and the
    journal reads activate, then acknowledge (a review found the row rewound)."""
    async def scenario() -> None:
        async with Station(tmp_path, [HIGH]) as station:
            with station.db.engine.begin() as connection:
                connection.exec_driver_sql(
                    "CREATE TRIGGER busy BEFORE INSERT ON alarm_journal "
                    "WHEN NEW.event = 'activate' BEGIN SELECT RAISE(ABORT, 'locked'); END")
            station.bus.put([sample("Level", 95.0)])
            await until(lambda: station.engine.pending == 1)
            with station.db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TRIGGER busy")
            steps = await station.engine.act(["Level.High"], AlarmEvent.ACK, user="maria")
            assert steps["Level.High"].ok
            assert station.engine.pending == 0
            assert [(r.event, r.after) for r in station.repo.journal()] == [
                (AlarmEvent.ACTIVATE, AlarmState.UNACKED), (AlarmEvent.ACK, AlarmState.ACKED)]
        async with Station(tmp_path, [HIGH]) as station:
            assert station.state("Level.High") is AlarmState.ACKED

    asyncio.run(scenario())


def test_a_restored_suppression_is_judged_again_at_its_tags_first_sample(tmp_path):
    rule = AlarmRule("Level.High", "Level", AlarmKind.HI, Priority.HIGH, "Level high",
                     limit=80.0, suppress_when="not Running")

    async def scenario() -> None:
        async with Station(tmp_path, [rule]) as station:
            station.bus.put([sample("Running", False), sample("Level", 95.0)])
            await until(lambda: station.state("Level.High") is AlarmState.SUPPRESSED)
            await until(lambda: station.engine.pending == 0)
            occurrences = [r.occurrence for r in station.repo.journal()]
            assert occurrences[-1] == 1  # activated while suppressed: counted
        async with Station(tmp_path, [rule]) as station:  # restart; Running now unknown
            assert station.state("Level.High") is AlarmState.SUPPRESSED
            station.bus.put([sample("Running", None, Quality.BAD)])
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            assert station.engine.record("Level.High").occurrence == 1  # the same one

    asyncio.run(scenario())


def test_an_on_delay_ends_on_the_engines_tick_without_another_sample(tmp_path):
    rule = AlarmRule("Level.High", "Level", AlarmKind.HI, Priority.HIGH, "Level high",
                     limit=80.0, on_delay=0.3)

    async def scenario() -> None:
        async with Station(tmp_path, [rule]) as station:
            station.bus.put([sample("Level", 95.0)])  # one sample, then silence
            await asyncio.sleep(0.1)
            assert station.state("Level.High") is AlarmState.NORMAL  # still delayed
            await until(lambda: station.state("Level.High") is AlarmState.UNACKED)
            assert not station.engine._waiting  # nothing left for the tick to look at

    asyncio.run(scenario())
