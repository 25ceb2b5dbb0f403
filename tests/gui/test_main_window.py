"""The main window against the real demo plant: live values, device state, BAD shown as BAD."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtWidgets import QLabel

from hmi.app import build_main_window
from hmi.core.samples import Quality
from hmi.gui.feed import TagFeed
from hmi.mes.secrets import install_memory_keyring
from hmi.runtime import Runtime
from hmi.sim.demo import DEMO_API_KEY, DemoPlant
from tests.conftest import demo_site, wait_for


def test_main_window_shows_live_values_then_bad_when_plc_stops(qloop, qtbot, tmp_path: Path):
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
            model = window.tag_model
            names = [t.name for t in site.tags]

            def all_good() -> bool:
                return all((s := model.sample(n)) is not None and s.quality is Quality.GOOD
                           for n in names)

            await wait_for(all_good, 15, "every demo tag GOOD in the table")
            row = names.index("Filler.Speed")
            shown = float(model.index(row, 1).data())
            assert math.isclose(shown, float(model.sample("Filler.Speed").value), abs_tol=0.06)
            assert model.index(row, 2).data() == "bpm"
            assert model.index(row, 3).data() == "GOOD"
            assert "Filler.Speed" in window.trend.pens
            assert len(window.trend.pens["Filler.Speed"].ring) > 0
            filler = window.findChild(QLabel, "deviceStatus_filler")
            await wait_for(lambda: filler.text() == "filler: connected", 5, "filler connected")

            modbus = plant.servers[0]
            await modbus.stop()
            await wait_for(lambda: model.sample("Filler.Speed").quality is Quality.BAD, 5,
                           "Filler.Speed BAD after the PLC stopped")
            assert model.index(row, 1).data() == "—"  # a BAD value is never shown as good
            assert model.index(row, 3).data().startswith("BAD: comm")
            await wait_for(lambda: "DISCONNECTED" in filler.text(), 5, "status bar shows it")
            assert filler.property("abnormal") is True
            capper_row = names.index("Capper.Torque")
            assert model.sample("Capper.Torque").quality is Quality.GOOD, "others undisturbed"
            assert model.index(capper_row, 1).data() != "—"
            window.grab().save(str(tmp_path / "plc-down.png"))

            feed = window.findChild(TagFeed)
            assert feed is not None, "the window takes a feed, not the bus"
            assert feed.subscriber_count("Filler.Speed") == 2, "the table and the trend"
            assert not hasattr(window, "_on_samples"), "the window routes no samples"
            window.close()
            window = None
            assert feed.subscriber_count("Filler.Speed") == 0, "closing unsubscribes"
            published = runtime.bus.published
            await wait_for(lambda: runtime.bus.published > published, 5, "samples go on")
            assert feed.waiting == 0, "a closed window's feed keeps nothing"
        finally:
            if window is not None:
                window.close()
            await runtime.stop()
            await plant.stop()

    qloop.run_until_complete(scenario())
