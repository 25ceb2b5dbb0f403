"""The trend over the real historian: samples written through the historian service to a
SQLite file come back in history mode and in the CSV export, BAD as a gap."""

from __future__ import annotations

import csv
from pathlib import Path

from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.gui.trend import TrendView
from hmi.services.historian import HistorianService
from hmi.services.history import History
from hmi.store.database import open_database
from hmi.store.historian_query import HistorianQuery
from tests.conftest import wait_for

SPEED = Tag(
    "Filler.Speed",
    "plc",
    ModbusAddress(RegisterTable.HOLDING_REGISTER, 0),
    DataType.FLOAT32,
    units="bpm",
)
LEVEL = Tag(
    "Filler.TankLevel",
    "plc",
    ModbusAddress(RegisterTable.HOLDING_REGISTER, 2),
    DataType.FLOAT32,
    units="%",
)  # never stored: a new pen on a fresh site
T0 = 1_800_000_000.0


def test_history_mode_and_csv_come_from_the_historian_file(qloop, qtbot, tmp_path: Path):
    database = open_database(tmp_path / "hmi.sqlite3")
    bus = TagBus()
    runner = ConsumerRunner(bus)
    service = HistorianService(database, [SPEED], heartbeat=60.0)
    runner.add(service, overflow=service.overflow, maxsize=service.queue_size)

    async def scenario() -> None:
        runner.start()
        for i in range(600):  # 10 minutes at 1 s, BAD for 20 s in the middle
            bad = 300 <= i < 320
            bus.put([
                Sample(
                    SPEED.name,
                    None if bad else 100.0 + i % 7,
                    Quality.BAD if bad else Quality.GOOD,
                    T0 + i,
                    T0 + i,
                    "comm: connection lost" if bad else "",
                )
            ])
        await runner.stop()  # flushes
        view = TrendView(
            [SPEED, LEVEL],
            300.0,
            clock=lambda: T0 + 600,
            all_tags=[SPEED, LEVEL],
            history=History(HistorianQuery(database)),
        )
        qtbot.addWidget(view)
        view.resize(1200, 500)
        view.show()
        view.show_history(T0, T0 + 600)
        await wait_for(
            lambda: (
                view.filler is not None and view.filler.covered is not None and not view.filler.busy
            ),
            10,
            "history fill",
        )
        # the pen without history shows live data only; it does not fail the other pen
        status = view.toolbar.status
        assert status.property("abnormal") is not True, status.text()
        path = tmp_path / "range.csv"
        rows = await view.export_csv(path)
        with path.open(newline="", encoding="utf-8") as file:
            table = list(csv.DictReader(file))
        assert rows == len(table) > 0
        assert {r["tag"] for r in table} == {"Filler.Speed"}
        bad = [r for r in table if r["quality"] == "BAD"]
        assert bad, "the BAD period is in the export"
        assert all(r["value"] == "" for r in bad)
        good = [float(r["value"]) for r in table if r["quality"] == "GOOD"]
        assert set(good) <= {100.0 + k for k in range(7)}
        view.export_png(tmp_path / "range.png")
        assert (tmp_path / "range.png").stat().st_size > 10_000
        view.close_view()

    try:
        qloop.run_until_complete(scenario())
    finally:
        database.close()
