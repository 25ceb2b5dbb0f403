"""The alarm list's model and the journal view on their own: many alarms clearing at
once keep the operator's selection; a slow read of an older range never replaces a
newer one; the details offer Acknowledge only to who may and only when there is
something to acknowledge."""

from __future__ import annotations

import asyncio
import time

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmRecord, AlarmState, AlarmTransition
from hmi.core.listeners import Listeners
from hmi.core.security import SecuritySettings
from hmi.gui.access import AccessController, ViewOnlySession
from hmi.gui.alarm_dialogs import AlarmDetailsDialog
from hmi.gui.alarm_journal_view import AlarmJournalView
from hmi.gui.alarm_model import RESET_ABOVE, AlarmSummaryModel
from hmi.gui.alarm_view import AlarmSummaryView
from hmi.store.alarms import JournalRow

RULES = {f"A{k:03d}": AlarmRule(f"A{k:03d}", f"T{k:03d}", AlarmKind.HI, Priority.LOW,
                                f"value {k} high", limit=1.0, area="Area")
         for k in range(100)}


class Board:
    """The engine's side of the model: records and change notifications."""

    def __init__(self) -> None:
        self.rules = RULES
        self.now: dict[str, AlarmRecord] = {}
        self.changes: Listeners[[list[AlarmTransition]]] = Listeners("test")

    def records(self) -> dict[str, AlarmRecord]:
        return dict(self.now)

    def problems(self) -> dict[str, str]:
        return {}

    def set(self, names: list[str], active: bool) -> None:
        said = []
        for name in names:
            alarm = Alarm(active=active, acked=False)
            self.now[name] = AlarmRecord(name, alarm, time.time(), 1)
            said.append(AlarmTransition(name, time.time(), AlarmEvent.ACTIVATE,
                                        AlarmState.NORMAL, alarm, 1))
        self.changes.fire(said)

    def clear(self, names: list[str]) -> None:
        for name in names:
            del self.now[name]
        self.changes.fire([AlarmTransition(n, time.time(), AlarmEvent.CLEAR,
                                           AlarmState.UNACKED, Alarm(), 1) for n in names])


def test_many_alarms_clearing_at_once_keep_the_operators_selection(qtbot):
    board = Board()
    model = AlarmSummaryModel(board)
    view = AlarmSummaryView(model, None, None,  # type: ignore[arg-type]  # reads only
                            AccessController(ViewOnlySession(), SecuritySettings()), 480)
    qtbot.addWidget(view)
    board.set(list(RULES), active=True)
    model.apply_pending()
    view.select("A050")
    assert [r.name for r in view.selected_rows()] == ["A050"]
    gone = [n for n in RULES if n != "A050"][: RESET_ABOVE + 10]
    board.clear(gone)
    model.apply_pending()  # rebuilt in one go (more than RESET_ABOVE gone)
    assert model.rowCount() == 100 - len(gone)
    assert [r.name for r in view.selected_rows()] == ["A050"]


class SlowJournal:
    """Real journal rows, the longer range answered later (a big read)."""

    async def journal(self, start, end, names=None):
        long = end - start > 7200
        await asyncio.sleep(0.3 if long else 0.01)
        count = 720 if long else 12
        return [JournalRow(k, "A001", end - 5 * k, AlarmEvent.ACTIVATE, AlarmState.NORMAL,
                           AlarmState.UNACKED, 1, "system", "", "") for k in range(count)]


def test_a_slow_read_of_an_older_range_never_replaces_the_newer_one(qtbot, qloop):
    board = Board()
    view = AlarmJournalView(board, SlowJournal())
    qtbot.addWidget(view)

    async def scenario() -> None:
        view.range.setCurrentIndex(4)  # last 30 days: slow
        await asyncio.sleep(0.05)
        view.range.setCurrentIndex(0)  # last hour: answered first
        await asyncio.sleep(0.6)

    qloop.run_until_complete(scenario())
    assert view.range.currentText() == "Last hour"
    assert view.model.rowCount() == 12
    assert view.status.text() == "12 entries"


def test_the_details_offer_acknowledge_only_to_who_may_and_when_there_is_something(qtbot):
    rule = RULES["A001"]
    unacked = AlarmRecord("A001", Alarm(active=True, acked=False), time.time(), 1)
    acked = AlarmRecord("A001", Alarm(active=True, acked=True), time.time(), 1)
    for record, may, offered in ((unacked, True, True), (unacked, False, False),
                                 (acked, True, False)):
        dialog = AlarmDetailsDialog(rule, record, may_acknowledge=may)
        qtbot.addWidget(dialog)
        assert dialog.ack_button.isVisibleTo(dialog) is offered
