"""`hmi demo` as a smoke test: the whole app against the demo plant, offscreen, in a real
subprocess, so the exit code and whatever the interpreter prints on the way out are real.
"""

from __future__ import annotations

import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

CRASH_TEXT = ("Traceback", "Fatal Python error", "deallocating None", "Segmentation fault")
DEMO_PORTS = (15020, 14840, 18080)  # filler (Modbus), capper (OPC UA), MES; demo.toml


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_offset() -> int:
    """An offset moving every demo port onto a free one, below the ephemeral range
    (32768 up on Linux) so that no OS-picked port of another test lands on it."""
    rng = random.Random()
    for _ in range(200):
        offset = rng.randrange(100, 32768 - max(DEMO_PORTS) - 1)
        if all(_free(port + offset) for port in DEMO_PORTS):
            return offset
    raise AssertionError("no port offset with all three demo ports free")


def run_demo(
    *args: str | Path, cwd: Path, timeout: float = 30.0, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi", "demo", "--headless", *(str(a) for a in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def assert_no_crash(result: subprocess.CompletedProcess[str]) -> None:
    for text in CRASH_TEXT:
        assert text not in result.stderr, f"{text!r} in stderr:\n{result.stderr}"


@dataclass(frozen=True)
class DemoRun:
    result: subprocess.CompletedProcess[str]
    screenshot: Path
    data: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One 4 s demo run with --data and --screenshot, shared by the checks below."""
    root = tmp_path_factory.mktemp("demo")
    screenshot = root / "shots" / "main.png"  # the folder does not exist yet
    env = dict(os.environ, HMI_LOG_DIR=str(root / "log"))
    data = root / "data"
    result = run_demo(
        "--duration",
        "4",
        "--screenshot",
        screenshot,
        "--data",
        data,
        "--port-offset",
        str(free_port_offset()),
        cwd=root,
        env=env,
    )
    return DemoRun(result, screenshot, data)


def test_demo_logs_to_a_file_in_the_log_folder(demo_run: DemoRun) -> None:
    log = demo_run.data.parent / "log" / "hmi.log"
    assert log.is_file()
    assert log.stat().st_size > 0


def test_demo_runs_for_its_duration_and_exits_cleanly(demo_run: DemoRun) -> None:
    result = demo_run.result
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)


def test_demo_screenshot_is_a_non_blank_png(demo_run: DemoRun) -> None:
    from PySide6.QtGui import QImage

    assert demo_run.result.returncode == 0, demo_run.result.stderr
    assert demo_run.screenshot.is_file(), demo_run.result.stderr
    assert demo_run.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(demo_run.screenshot))
    assert not image.isNull(), "Qt cannot read the screenshot"
    assert image.width() >= 640
    assert image.height() >= 400
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
    }
    assert len(colours) > 50, f"only {len(colours)} distinct colours: a blank window?"


def test_demo_keeps_its_database_in_the_data_folder(demo_run: DemoRun) -> None:
    database = demo_run.data / "hmi.sqlite3"
    assert database.is_file(), sorted(p.name for p in demo_run.data.iterdir())
    assert database.read_bytes()[:16] == b"SQLite format 3\x00"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    connection.close()
    assert tables, "the database has no schema"


def test_demo_port_in_use_is_a_one_line_reason(tmp_path: Path) -> None:
    offset = free_port_offset()
    taken = DEMO_PORTS[1] + offset  # the OPC UA capper
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        result = run_demo("--duration", "3", "--port-offset", str(offset), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert_no_crash(result)
    naming = [line for line in result.stderr.splitlines() if str(taken) in line]
    assert len(naming) == 1, result.stderr
    assert "in use" in naming[0]
    assert "--port-offset" in naming[0], "the message says what to do"


def test_demo_screenshot_needs_duration(tmp_path: Path) -> None:
    result = run_demo("--screenshot", tmp_path / "x.png", cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "--screenshot" in lines[0]
    assert "--duration" in lines[0]
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("duration", ["0", "-1"])
def test_demo_duration_must_be_positive(tmp_path: Path, duration: str) -> None:
    result = run_demo(f"--duration={duration}", cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert "--duration" in result.stderr


def test_demo_unwritable_screenshot_is_a_one_line_reason(tmp_path: Path) -> None:
    # Qt writes no file it has no format for; the folder itself is writable
    target = tmp_path / "window.not-an-image-format"
    result = run_demo(
        "--duration",
        "1",
        "--screenshot",
        target,
        "--port-offset",
        str(free_port_offset()),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert_no_crash(result)
    assert str(target) in result.stderr


def test_demo_freezes_its_start_up_heap_out_of_the_collector(demo_run: DemoRun) -> None:
    """Once the runtime and window are built, the app freezes what start-up made, so the
    full collections that pause the GUI loop no longer walk it (hmi.app.settle_gc)."""
    log = (demo_run.data.parent / "log" / "hmi.log").read_text(encoding="utf-8")
    frozen = re.findall(r"garbage collector: (\d+) start-up objects frozen", log)
    assert len(frozen) == 1, log[-3000:]
    assert int(frozen[0]) > 0
