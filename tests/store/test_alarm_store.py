"""Alarm states and journal on a real SQLite file: a batch commits the journal rows and
the states together, the states come back after a restart, the journal reads by time."""

from __future__ import annotations

import pytest

from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmState, AlarmTransition, step
from hmi.store.alarms import AlarmRepository
from hmi.store.database import StoreError, open_database
from tests.store.test_historian_fixtures import BACKENDS, database_url

T = 1_700_000_000.0


def transition(name, alarm, event, t, **kw):
    result = step(alarm, event, now=t, until=kw.pop("until", None), max_shelve_s=3600)
    assert result.ok, result.refused
    return result.after, AlarmTransition(name, t, event, alarm.state, result.after,
                                         kw.pop("occurrence", 1), **kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_is_journalled_and_the_states_come_back_after_a_restart(backend, tmp_path):
    with database_url(backend, tmp_path) as url:
        _batch_and_restart(url)


def _batch_and_restart(url: str) -> None:
    db = open_database(url)
    repo = AlarmRepository(db)
    a, t1 = transition("Tank.Low", Alarm(), AlarmEvent.ACTIVATE, T, value="12.5")
    a, t2 = transition("Tank.Low", a, AlarmEvent.ACK, T + 5, user="maria", comment="seen")
    b, t3 = transition("Fault", Alarm(latching=True), AlarmEvent.ACTIVATE, T + 1)
    b, t4 = transition("Fault", b, AlarmEvent.CLEAR, T + 2)
    _, t5 = transition("Noisy", Alarm(), AlarmEvent.SHELVE, T + 3, until=T + 1800,
                       user="tom", comment="sensor being replaced", occurrence=0)
    repo.record([t1, t3, t2, t4, t5])
    db.close()

    db = open_database(url)  # a restart
    repo = AlarmRepository(db)
    records = repo.load(latching={"Fault": True})
    assert records["Tank.Low"].alarm == a
    assert records["Tank.Low"].alarm.state is AlarmState.ACKED
    assert records["Tank.Low"].since == T + 5  # entered ACKED then
    assert records["Tank.Low"].occurrence == 1
    assert records["Fault"].alarm.state is AlarmState.LATCHED
    assert records["Noisy"].alarm.shelved_until == T + 1800
    journal = repo.journal()
    assert [(r.name, r.event, r.before, r.after) for r in journal] == [
        ("Tank.Low", AlarmEvent.ACTIVATE, AlarmState.NORMAL, AlarmState.UNACKED),
        ("Fault", AlarmEvent.ACTIVATE, AlarmState.NORMAL, AlarmState.UNACKED),
        ("Fault", AlarmEvent.CLEAR, AlarmState.UNACKED, AlarmState.LATCHED),
        ("Noisy", AlarmEvent.SHELVE, AlarmState.NORMAL, AlarmState.SHELVED),
        ("Tank.Low", AlarmEvent.ACK, AlarmState.UNACKED, AlarmState.ACKED),
    ]
    ack = journal[-1]
    assert (ack.user, ack.comment, ack.time) == ("maria", "seen", T + 5)
    assert journal[0].value == "12.5"
    assert [r.name for r in repo.journal(T + 1, T + 3)] == ["Fault", "Fault"]
    assert [r.event for r in repo.journal(names=["Noisy"])] == [AlarmEvent.SHELVE]
    # a site that no longer configures Fault as latching does not bring the latch back
    assert repo.load()["Fault"].alarm.state is AlarmState.RTN_UNACKED
    # a second batch on rows that exist: one UPDATE for all, ``since`` only where moved
    _, t6 = transition("Tank.Low", a, AlarmEvent.CLEAR, T + 9)
    _, t7 = transition("Noisy", records["Noisy"].alarm, AlarmEvent.ACTIVATE, T + 10)
    repo.record([t6, t7])
    again = repo.load(latching={"Fault": True})
    assert again["Tank.Low"].alarm.state is AlarmState.NORMAL
    assert again["Tank.Low"].since == T + 9
    assert again["Noisy"].alarm.active  # shelved still: the state did not move...
    assert again["Noisy"].since == T + 3  # ...so neither did since
    assert again["Fault"] == records["Fault"]
    db.close()


def test_a_failed_batch_records_nothing_and_says_why(tmp_path):
    db = open_database(tmp_path / "hmi.db")
    repo = AlarmRepository(db)
    _, good = transition("A", Alarm(), AlarmEvent.ACTIVATE, T)
    bad = AlarmTransition("BBB", T, AlarmEvent.ACTIVATE, AlarmState.NORMAL,
                          Alarm(active=True, acked=False), 1)
    with db.engine.begin() as connection:  # a database that refuses one state row
        connection.exec_driver_sql(
            "CREATE TRIGGER no_b BEFORE INSERT ON alarm_states WHEN NEW.name = 'BBB' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(StoreError, match="cannot record 2 alarm transitions"):
        repo.record([good, bad])
    assert repo.journal() == []  # the journal row of A went back with it
    assert repo.load() == {}
    db.close()
