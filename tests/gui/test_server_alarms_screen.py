"""Alarms a PLC's own OPC UA server raises (Part 9) in the same alarm list as the
station's: the real node-opcua server (tests/opcua_alarms) on 127.0.0.1, the real
runtime and main window. Raised before we connected (ConditionRefresh), acknowledged
from the list with the comment a critical alarm needs (it reaches the server, audited),
the server gone (the list says so and keeps the last known), and back with another set
of alarms (the list is put right)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmState
from hmi.core.site import Device, DeviceKind
from hmi.gui.alarm_dialogs import AlarmActionDialog
from tests.conftest import demo_site, free_port, wait_for
from tests.gui.accounts import shot, station
from tests.opcua_alarms.harness import AlarmServer
from tests.opcua_alarms.install import ensure_installed

pytestmark = pytest.mark.slow  # a Node.js server process
TANK = "boiler:ns=1;s=TankLevelAlarm"
PRESSURE = "boiler:ns=1;s=PressureAlarm"


@pytest.fixture
def alarm_server() -> Iterator[AlarmServer]:
    why = ensure_installed()
    if why:
        pytest.skip(why)
    server = AlarmServer(free_port())
    server.start("tank", "TankLevel=95")  # active before the station connects
    yield server
    server.close()


def test_a_servers_alarms_are_in_the_same_list_acknowledged_there_and_put_right_on_return(
        qloop, qtbot, tmp_path: Path, alarm_server: AlarmServer):
    boiler = Device("boiler", DeviceKind.OPCUA, endpoint=alarm_server.endpoint,
                    poll_interval=0.1, timeout=1.0, alarms_and_conditions=True)
    site = demo_site()
    site = dataclasses.replace(site, devices=(*site.devices, boiler))
    with station(qloop, qtbot, tmp_path, site=site) as st:
        st.add_users("o.otto", "m.maier")
        view = st.window.alarm_view
        model = st.window.alarm_model
        source = st.runtime.condition_sources["boiler"]

        def state(name: str) -> AlarmState | None:
            row = model.row(name)
            return row.state if row is not None else None

        async def body() -> None:
            st.window.show_alarm_list()  # the Alarms tab, where the operator works
            source.start()
            try:
                await wait_for(lambda: state(TANK) is AlarmState.UNACKED, 20,
                               "the server's alarm listed")
                row = model.row(TANK)
                assert row is not None
                assert row.rule.priority is Priority.CRITICAL  # severity 900
                assert row.rule.area == "boiler"
                assert "Tank level HighHigh" in row.rule.message
                assert st.window.alarm_banner.shown_alarms() == [TANK]
                await st.login("o.otto")
                view.select(TANK)
                view.ack_button.click()
                dialog = view.dialog
                assert isinstance(dialog, AlarmActionDialog)  # critical: a comment
                dialog.text.setText("level checked on site")
                dialog.submit_button.click()
                await wait_for(lambda: state(TANK) is AlarmState.ACKED, 10,
                               "acknowledged on the server")
                condition = source.condition("ns=1;s=TankLevelAlarm")
                assert condition is not None and condition.acked
                assert condition.comment == "level checked on site"
                audit = [(r.user, r.action) for r in st.runtime.audit.rows()]
                assert ("o.otto", "ack_alarm:ack") in audit
                # shelving is the server's to allow: its refusal reaches the operator
                await st.login("m.maier")
                view.select(TANK)
                view.shelve_button.click()
                shelving = view.dialog
                assert isinstance(shelving, AlarmActionDialog)
                shelving.text.setText("level transmitter being replaced")
                shelving.submit_button.click()
                await wait_for(lambda: "BadShelvingTimeOutOfRange" in shelving.message.text(),
                               10, "the server's refusal")
                shot(shelving, "server-alarm-shelve-refused.png")
                shelving.reject()
                # back to normal: it waits, acknowledged, for the operator to confirm it
                await alarm_server.set("TankLevel", "50")
                await wait_for(lambda: state(TANK) is AlarmState.RTN_UNACKED, 10,
                               "waiting to be confirmed")
                assert st.window.annunciator.sounding is None  # not sounded again
                view.select(TANK)
                view.ack_button.click()
                confirming = view.dialog
                confirming.text.setText("level normal again")
                confirming.submit_button.click()
                await wait_for(lambda: state(TANK) is None, 10, "confirmed and released")
                audit = [(r.user, r.action) for r in st.runtime.audit.rows()]
                assert ("m.maier", "ack_alarm:confirm") in audit
                await alarm_server.set("TankLevel", "95")  # again, for what follows
                await wait_for(lambda: state(TANK) is AlarmState.UNACKED, 10, "raised again")
                # the server goes away: said above the list; its alarm stays as last known
                await asyncio.to_thread(alarm_server.kill)
                await wait_for(lambda: view.problems.isVisible(), 15, "the problem shown")
                assert view.problems.text().startswith("Alarms of boiler cannot be had")
                assert state(TANK) is AlarmState.UNACKED
                banner = st.window.alarm_banner  # on every screen, not only the list
                assert banner.source_problem.isVisible()
                assert banner.source_problem.text().startswith("Alarms of boiler cannot be")
                assert model.row(TANK).rule.shown_name == "boiler/TankLevelAlarm"
                shot(st.window, "server-alarms-unreachable.png")
                # back with another set: the refresh puts the list right
                await asyncio.to_thread(alarm_server.start, "pump", "Pressure=11")
                await wait_for(lambda: state(PRESSURE) is AlarmState.UNACKED, 30,
                               "the new set listed")
                await wait_for(lambda: not view.problems.isVisible(), 5, "problem gone")
                assert state(TANK) is None
            finally:
                await source.stop()

        qloop.run_until_complete(body())
