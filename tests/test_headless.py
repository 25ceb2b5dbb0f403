"""`hmi run --headless`: the station without a window (a gateway PC, a service) against
the demo plant's simulators on 127.0.0.1: it collects (historian), keeps the production
period it has open, holds the station lock, and stops cleanly on SIGTERM, exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, func, select

from hmi.config import parse_site
from hmi.folders import DATABASE_FILE
from hmi.sim.demo import DemoPlant
from hmi.store.schema.historian import historian_samples
from hmi.store.schema.production import production_open
from tests.conftest import free_port


def demo_text() -> str:
    """The demo site on free ports, as a file a station would read."""
    text = resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")
    return (text.replace("port = 15020", f"port = {free_port()}")
            .replace("127.0.0.1:14840", f"127.0.0.1:{free_port()}")
            .replace("127.0.0.1:18080", f"127.0.0.1:{free_port()}"))


def test_a_station_without_a_window_collects_and_stops_cleanly_on_sigterm(tmp_path: Path):
    text = demo_text()
    config = tmp_path / "site.toml"
    config.write_text(text, encoding="utf-8")
    data = tmp_path / "data"

    async def scenario() -> tuple[int, str]:
        plant = DemoPlant(parse_site(text, "site.toml"))
        await plant.start()
        try:
            station = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hmi", "run", "--config", str(config), "--data",
                str(data), "--headless", stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            assert station.stdout is not None
            line = b""
            while b"running without a window" not in line:  # (log lines come first)
                line += await asyncio.wait_for(station.stdout.readline(), 60)
                assert station.returncode is None, line
            await asyncio.sleep(4)  # polling and storing
            started = time.monotonic()
            station.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(station.stdout.read(), 30)
            code = await station.wait()
            assert time.monotonic() - started < 15, "stopped promptly"
            return code, (line + rest).decode()
        finally:
            await plant.stop()

    code, output = asyncio.run(scenario())
    assert code == 0, output
    assert "stopped cleanly" in output
    assert "Traceback" not in output
    assert "MES sending is held: no usable keyring backend" in output  # said, not fatal
    engine = create_engine(f"sqlite:///{data / DATABASE_FILE}")
    try:
        with engine.connect() as connection:
            samples = connection.execute(select(func.count()).select_from(
                historian_samples)).scalar_one()
            periods = connection.execute(select(production_open.c.rule)).scalars().all()
    finally:
        engine.dispose()
    assert samples > 50  # the plant's values reached the historian
    assert periods == ["filler_output"]  # the open period kept for the next start
