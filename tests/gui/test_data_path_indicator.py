"""What a consumer of the samples loses is visible: flooded past its queue, the historian's
drop count reaches the status bar (red), pushed by the consumer runner; and the span
it lost is a gap in its history."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QLabel

from hmi.app import build_main_window
from hmi.core.samples import Quality, Sample
from hmi.mes.secrets import install_memory_keyring
from hmi.runtime import Runtime
from hmi.services.historian import QUEUE_SIZE
from hmi.sim.demo import DEMO_API_KEY
from tests.conftest import demo_site, wait_for

SHOT = Path(__file__).resolve().parents[2] / "build" / "screens" / "data_path_indicator.png"


def test_a_flooded_historian_is_shown_in_the_status_bar(qloop, qtbot, tmp_path: Path) -> None:
    site = demo_site()  # its PLCs are not running: only the flood arrives
    install_memory_keyring({site.mes.api_key_secret: DEMO_API_KEY})
    tag = site.tags[0].name

    async def scenario() -> None:
        runtime = Runtime(site, tmp_path)
        window = None
        try:
            await runtime.start()
            window = build_main_window(runtime, "test")
            qtbot.addWidget(window)
            window.resize(window.designed_size)
            window.show()
            label = window.findChild(QLabel, "dataPathStatus")
            assert not label.isVisible(), "hidden while all is well"
            now = time.time()
            flood = [Sample(tag, float(i), Quality.GOOD, now + i * 1e-3, now)
                     for i in range(QUEUE_SIZE + 50_000)]
            runtime.bus.put(flood)  # one burst, more than the historian's queue holds
            await wait_for(label.isVisible, 5, "the indicator shown")
            assert "historian could not keep up" in label.text()
            historian = next(s for s in runtime.runner.stats() if s.name == "historian")
            # the flood's surplus, and any device samples queued before it
            assert 50_000 <= historian.dropped < 50_500
            assert f"{historian.dropped:,} samples not processed" in label.text()
            assert label.property("abnormal") is True
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            assert window.grab().save(str(SHOT))
        finally:
            if window is not None:
                window.close()
            await runtime.stop()
        # the lost span is stored as a gap before the values that were kept
        assert runtime.historian.gaps_stored >= 1

    qloop.run_until_complete(scenario())
