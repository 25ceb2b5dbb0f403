"""The device view: state pushed the moment it changes, counters at 1 Hz while on screen,
red when down, amber while errors rise."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QTabWidget, QWidget

from hmi.app import build_main_window
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.gui.device_view import DeviceView
from hmi.mes.secrets import install_memory_keyring
from hmi.runtime import Runtime
from hmi.services.devices import COLUMNS
from hmi.sim.demo import DEMO_API_KEY, DemoPlant
from tests.conftest import demo_site, wait_for

SCREENSHOT = Path("/tmp/device_view.png")


def _diag(name: str, state: ConnectionState, errors: int = 0, error: str = "",
          p50: float = 0.0042) -> DeviceDiagnostics:
    return DeviceDiagnostics(
        device=name, state=state, last_error=error, requests_per_s=12.0, latency_p50=p50,
        latency_p99=0.0191, reconnects=1, errors=errors, requests=7200, bytes_sent=86_400,
        bytes_received=1_250_000,
    )


def _background(view: DeviceView, row: int) -> str | None:
    brush = view.model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
    return brush.color().name() if isinstance(brush, QBrush) else None


def test_rows_columns_and_isa101_colours(qtbot) -> None:
    state = {"errors": 3}
    calls: list[int] = []

    def provider() -> dict[str, DeviceDiagnostics]:
        calls.append(1)
        return {
            "filler": _diag("filler", ConnectionState.CONNECTED),
            "capper": _diag("capper", ConnectionState.DISCONNECTED,
                            error="connection refused by opc.tcp://127.0.0.1:4840/",
                            p50=math.nan),
            "labeller": _diag("labeller", ConnectionState.CONNECTED, errors=state["errors"],
                              error="modbus: illegal data address (exception 2)"),
        }

    view = DeviceView(provider, interval_ms=50)
    qtbot.addWidget(view)
    view.resize(1300, 220)
    view.show()
    model = view.model
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))] == \
        list(COLUMNS)
    texts = [model.index(0, c).data() for c in range(len(COLUMNS))]
    assert texts == ["filler", "connected", "", "12.0", "4.2", "19.1", "1", "0", "86.4 kB",
                     "1.2 MB"]
    assert model.index(1, 1).data() == "DISCONNECTED"
    assert model.index(1, 4).data() == "—"  # no latency yet is no number, not 0
    assert _background(view, 0) is None  # normal is grey: no colour
    assert _background(view, 1) == "#c62828"
    assert _background(view, 2) is None
    state["errors"] = 5  # errors rising on a connected device
    qtbot.waitUntil(lambda: _background(view, 2) == "#f2c200", timeout=2000)
    assert model.counts() == (1, 1)
    view.refresh()
    SCREENSHOT.with_name("device_view_states.png").unlink(missing_ok=True)
    assert view.grab().save(str(SCREENSHOT.with_name("device_view_states.png")))
    view.stop()


def test_counters_refresh_only_while_the_view_is_on_screen(qtbot) -> None:
    calls: list[int] = []

    def provider() -> dict[str, DeviceDiagnostics]:
        calls.append(1)
        return {"filler": _diag("filler", ConnectionState.CONNECTED)}

    view = DeviceView(provider, interval_ms=20)
    qtbot.addWidget(view)
    assert calls == [1], "filled once when built"
    assert not view.refreshing_counters, "hidden: no counter refresh at all"
    view.show()
    qtbot.waitUntil(lambda: len(calls) >= 4, timeout=2000)
    view.hide()
    assert not view.refreshing_counters
    hidden_at = len(calls)
    qtbot.wait(200)  # ten intervals of the counter timer
    assert len(calls) == hidden_at
    view.stop()


def test_a_status_change_reaches_its_row_at_once(qtbot) -> None:
    view = DeviceView(lambda: {"filler": _diag("filler", ConnectionState.CONNECTED),
                               "capper": _diag("capper", ConnectionState.CONNECTED)})
    qtbot.addWidget(view)
    shown: list[tuple[int, int]] = []
    view.refreshed.connect(lambda down, rising: shown.append((down, rising)))
    assert not view.refreshing_counters  # never shown: only a push can change a row
    view.on_status(DeviceStatus("filler", ConnectionState.DISCONNECTED, 0.0,
                                "connection refused", reconnects=2))
    model = view.model
    assert model.index(0, 1).data() == "DISCONNECTED"  # no event loop turn, no tick
    assert model.index(0, 2).data() == "connection refused"
    assert model.index(0, 6).data() == "2"
    assert model.index(0, 3).data() == "12.0", "the counters are kept as they were"
    assert model.index(1, 1).data() == "connected"
    assert shown == [(1, 0)], "the window hears of it at once (the Devices tab text)"
    view.on_status(DeviceStatus("sealer", ConnectionState.CONNECTING, 0.0))
    assert model.rowCount() == 3
    assert model.index(2, 1).data() == "connecting"
    view.stop()


def test_main_window_devices_tab_against_the_demo_plant(qloop, qtbot, tmp_path: Path) -> None:
    site = demo_site()
    install_memory_keyring({site.mes.api_key_secret: DEMO_API_KEY})

    async def scenario() -> None:
        plant = DemoPlant(site)
        await plant.start()
        runtime = Runtime(site, tmp_path)
        window = None
        try:
            await runtime.start()
            window = build_main_window(runtime, "alice")
            qtbot.addWidget(window)
            window.show()
            tabs = window.findChild(QTabWidget, "viewTabs")
            devices = tabs.indexOf(window.findChild(QWidget, "devicesTab"))
            tags = tabs.indexOf(window.findChild(QWidget, "tagsTab"))
            tabs.setCurrentIndex(devices)
            model = window.device_view.model

            def state_of(device: str) -> str | None:
                found = model.diagnostics(device)
                return found.state.value if found else None

            await wait_for(lambda: state_of("filler") == "connected"
                           and state_of("capper") == "connected", 15, "both connected")
            await wait_for(lambda: (d := model.diagnostics("filler")) is not None
                           and d.requests > 2, 5, "filler requests counted")
            assert tabs.tabText(devices) == "Devices"
            assert window.device_view.refreshing_counters, "on screen: counters at 1 Hz"

            tabs.setCurrentIndex(tags)  # the Devices tab hidden: no counter refresh...
            assert not window.device_view.refreshing_counters
            await plant.servers[0].stop()  # ...so only the pushed status can say this
            await wait_for(lambda: state_of("filler") == "disconnected", 5, "filler down")
            assert tabs.tabText(devices) == "Devices — 1 DOWN", "said on the hidden tab too"
            assert not window.device_view.refreshing_counters
            tabs.setCurrentIndex(devices)
            row = [model.index(r, 0).data() for r in range(model.rowCount())].index("filler")
            assert model.index(row, 1).data() == "DISCONNECTED"
            assert model.index(row, 2).data()  # the reason is shown, not just the colour
            brush = model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
            assert brush.color().name() == "#c62828"
            assert window.device_view.grab().save(str(SCREENSHOT))
            assert window.grab().save(str(SCREENSHOT.with_name("device_view_window.png")))
        finally:
            if window is not None:
                window.close()
            await runtime.stop()
            await plant.stop()

    qloop.run_until_complete(scenario())
