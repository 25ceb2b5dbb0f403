"""End to end: demo PLC counter -> production event -> operator confirms in the GUI ->
SQLite -> exactly one POST at the MES simulator, held while the MES is down."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from hmi.app import build_main_window
from hmi.core.security import Action, Role
from hmi.mes.secrets import install_memory_keyring
from hmi.runtime import DATABASE_FILE, Runtime
from hmi.sim.demo import DEMO_API_KEY, DemoPlant
from tests.conftest import demo_site, wait_for

PASSWORD = "filler shift 7"


async def sign(queue, qtbot, name: str = "") -> None:
    """Fill in the signature dialog Confirm opened, as the operator would."""
    await wait_for(lambda: queue.signature_dialog is not None
                   and queue.signature_dialog.isVisible(), 5, "the signature dialog")
    dialog = queue.signature_dialog
    assert dialog.asks_name == bool(name)
    if name:
        qtbot.keyClicks(dialog.name, name)
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    await wait_for(lambda: not dialog.isVisible(), 10, "the signature accepted")


def counted(queue):
    """The first queued event with parts counted, as its list item (None: none yet)."""
    for row in range(queue.list.count()):
        item = queue.list.item(row)
        if item.data(Qt.ItemDataRole.UserRole).good_count > 0:
            return item
    return None


def test_confirm_in_gui_posts_once_and_holds_while_mes_is_down(qloop, qtbot, tmp_path: Path):
    site = demo_site(period=1.0)
    install_memory_keyring({site.mes.api_key_secret: DEMO_API_KEY})

    async def scenario() -> None:
        plant = DemoPlant(site)
        await plant.start()
        mes = plant.mes
        assert mes is not None
        runtime = Runtime(site, tmp_path)
        window = None
        try:
            await runtime.start()
            # an operator at the station: nobody may confirm without logging in
            admin = runtime.users.first_admin("admin", "station key 42", "Site Admin")
            runtime.users.add(admin, "alice", Role.OPERATOR, PASSWORD, "Alice A.")
            runtime.session.login("alice", PASSWORD)
            window = build_main_window(runtime, "os-account")
            qtbot.addWidget(window)
            window.show()
            queue = window.events
            # a period that closed before the counter's first value is queued too, flagged
            # incomplete (count unknown): the operator confirms one with bottles in it
            await wait_for(lambda: counted(queue) is not None, 15, "a counted event queued")
            queue.list.setCurrentItem(counted(queue))
            event = queue.selected_event()
            assert event is not None
            assert event.good_count > 0
            queue.comment.setText("shift A, all good")
            qtbot.mouseClick(queue.confirm_button, Qt.MouseButton.LeftButton)
            # the demo site asks for a signature: user name and password the first time
            await sign(queue, qtbot, name="alice")
            await wait_for(lambda: len(mes.received) == 1, 10, "the POST at the MES")
            await wait_for(lambda: "1 sent" in queue.outbox_label.text(), 5, "'1 sent' shown")
            assert mes.post_count == 1
            body = mes.received[0]["transaction"]
            assert body["transactionId"] == mes.received[0]["idempotency_key"]
            assert body["quantity"]["good"] == event.good_count
            assert body["confirmedBy"] == "alice"
            assert body["comment"] == "shift A, all good"
            assert body["signature"]["signer"] == "alice"
            assert body["signature"]["meaning"] == site.security.meaning(Action.CONFIRM_EVENT)
            assert "Confirmed" in queue.feedback.text()

            # the MES goes down: a confirmation is stored and held, nothing is lost
            await mes.stop()
            await wait_for(lambda: queue.list.count() >= 1, 10, "the next event queued")
            second = queue.selected_event()
            assert second is not None
            assert second.event_id != event.event_id
            qtbot.mouseClick(queue.confirm_button, Qt.MouseButton.LeftButton)
            await sign(queue, qtbot)  # the password alone now
            await wait_for(lambda: "1 waiting to send" in queue.outbox_label.text(), 5,
                           "'1 waiting' shown")
            rows = sqlite3.connect(tmp_path / DATABASE_FILE).execute(
                "select status, attempts from outbox order by created_at").fetchall()
            assert rows[0][0] == "sent"
            assert rows[1][0] == "pending"

            assert mes.post_count == 1, "nothing reached the MES while it was down"
            await mes.start()  # same port
            await wait_for(lambda: len(mes.received) == 2, 10, "the held POST after restart")
            assert mes.received[1]["transaction"]["transactionId"] != body["transactionId"]
            await wait_for(lambda: "2 sent · 0 waiting" in queue.outbox_label.text(), 5,
                           "'2 sent' shown")
            assert mes.post_count == 2, "exactly one more POST, no duplicate"
        finally:
            if window is not None:
                window.close()
            await runtime.stop()
            await plant.stop()

    qloop.run_until_complete(scenario())
