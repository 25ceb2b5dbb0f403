"""`hmi alarms list`: the station's alarms as its store has them, most urgent first.

Reads the alarm states the running app (or the last run) journalled in the data folder's
database, with each alarm's priority, message and area from the site file. Active and
unacknowledged alarms first, then by priority and by how long they have been so;
``--all`` lists normal ones too; ``--json`` for scripts. Acknowledging and shelving from
the command line: hmi.commands.alarm_actions.
"""

from __future__ import annotations

import argparse
import json
import time

from hmi.commands.login import EXIT_OK, existing_database, guarded
from hmi.config import load_site
from hmi.core.alarm_rules import AlarmRule
from hmi.core.alarm_states import Alarm, AlarmRecord, AlarmState
from hmi.store.alarms import AlarmRepository

_ORDER = {state: k for k, state in enumerate((
    AlarmState.UNACKED, AlarmState.RTN_UNACKED, AlarmState.LATCHED, AlarmState.ACKED,
    AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE,
    AlarmState.NORMAL))}


@guarded("alarms list")
def cmd_list(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    database = existing_database(args)
    try:
        rules = {rule.name: rule for rule in site.alarms}
        stored = AlarmRepository(database).load({n: r.latching for n, r in rules.items()})
    finally:
        database.close()
    now = time.time()
    rows = [(rule, stored.get(name) or AlarmRecord(name, Alarm(latching=rule.latching), now))
            for name, rule in rules.items()]
    if not args.all:
        rows = [(rule, record) for rule, record in rows
                if record.alarm.state is not AlarmState.NORMAL]
    rows.sort(key=lambda row: (_ORDER[row[1].alarm.state], row[0].priority.rank,
                               row[1].since))
    if args.json:
        print(json.dumps([_as_json(rule, record) for rule, record in rows], indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"no alarms{'' if args.all else ' active, unacknowledged or set aside'} "
              f"({len(rules)} configured)")
        return EXIT_OK
    print(f"{'STATE':<36} {'PRIORITY':<9} {'SINCE':<19} {'ALARM':<28} MESSAGE")
    for rule, record in rows:
        print(f"{_state_text(record):<36} {rule.priority.value:<9} "
              f"{_local(record.since):<19} {rule.name:<28} {rule.message}")
    return EXIT_OK


def _state_text(record: AlarmRecord) -> str:
    text = record.alarm.state.value
    until = record.alarm.shelved_until
    if record.alarm.state is AlarmState.SHELVED and until is not None:
        text += f" until {time.strftime('%H:%M', time.localtime(until))}"
    return text


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _as_json(rule: AlarmRule, record: AlarmRecord) -> dict[str, object]:
    alarm = record.alarm
    return {
        "name": rule.name, "state": alarm.state.value, "priority": rule.priority.value,
        "message": rule.message, "area": rule.area, "equipment": rule.equipment,
        "since": record.since, "active": alarm.active, "acknowledged": alarm.acked,
        "shelved_until": alarm.shelved_until, "occurrence": record.occurrence,
    }
