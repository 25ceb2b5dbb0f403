"""The PySide6 / pyqtgraph pins in pyproject.toml, and the crash they keep out.

PySide6 6.12.0 with pyqtgraph 0.14.0 aborts the interpreter ("Fatal Python error:
none_dealloc: deallocating None", in pyqtgraph's arrayToQPath) when painting 32 curves
of 86,400 points; 6.8.3 .. 6.11.3 do not. In 6.12.0 each call of a void C++ method
takes a reference from None; on Python 3.11 None's count reaches zero and the
interpreter aborts (None is immortal from Python 3.12, so there it only leaks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # pytest itself depends on packaging
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PAINT_STRESS = Path(__file__).with_name("paint_stress.py")
KNOWN_BAD_PYSIDE6 = "6.12.0"
KNOWN_GOOD_PYSIDE6 = ("6.8.3", "6.11.3")
STRESS_RUNS = 3


def pinned(name: str) -> Requirement:
    """The requirement on ``name`` in pyproject's [project] dependencies."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    wanted = name.lower().replace("_", "-")
    for line in dependencies:
        requirement = Requirement(line)
        if requirement.name.lower().replace("_", "-") == wanted:
            return requirement
    raise AssertionError(f"{name} is not in pyproject's dependencies")


def installed_pyside6() -> str:
    for distribution in ("PySide6-Essentials", "PySide6"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    raise AssertionError("neither PySide6-Essentials nor PySide6 is installed")


def test_installed_qt_stack_is_inside_the_pinned_ranges():
    import pyqtgraph
    import PySide6
    import shiboken6

    pyside = pinned("PySide6-Essentials").specifier
    plots = pinned("pyqtgraph").specifier
    assert not pyside.contains(KNOWN_BAD_PYSIDE6, prereleases=True), (
        f"PySide6 pin {pyside} admits {KNOWN_BAD_PYSIDE6}, which aborts in arrayToQPath")
    for good in KNOWN_GOOD_PYSIDE6:
        assert pyside.contains(good), f"PySide6 pin {pyside} excludes known-good {good}"

    version = installed_pyside6()
    assert pyside.contains(version, prereleases=True), (
        f"installed PySide6 {version} is outside the pin {pyside}")
    # what is imported is what is installed, and shiboken6 comes from the same release
    assert Version(PySide6.__version__) == Version(version)
    assert Version(shiboken6.__version__) == Version(version)
    assert plots.contains(metadata.version("pyqtgraph"), prereleases=True), (
        f"installed pyqtgraph {metadata.version('pyqtgraph')} is outside the pin {plots}")
    assert Version(pyqtgraph.__version__) == Version(metadata.version("pyqtgraph"))


def test_void_qt_methods_do_not_take_references_from_none():
    """The root cause, in milliseconds: 6.12.0 loses one None reference per call."""
    from PySide6.QtGui import QPainterPath, QPolygonF

    calls = 2000
    polygon = QPolygonF()
    path = QPainterPath()
    before = sys.getrefcount(None)
    for _ in range(calls):
        polygon.resize(4)
        path.addPolygon(polygon)
        path.clear()
    lost = before - sys.getrefcount(None)
    assert lost < calls // 2, f"{lost} references to None lost in {3 * calls} void calls"


@pytest.mark.timeout(300)
def test_painting_32_day_long_curves_does_not_abort_the_interpreter():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for run in range(1, STRESS_RUNS + 1):
        done = subprocess.run(
            [sys.executable, str(PAINT_STRESS), "--curves", "32", "--points", "86400",
             "--paints", "3"],
            capture_output=True, text=True, env=env, timeout=240, check=False,
        )
        what = f"run {run}: exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        assert "deallocating None" not in done.stderr, what
        assert "Fatal Python error" not in done.stderr, what
        assert done.returncode == 0, what
        assert done.stdout.startswith("PySide6 "), what
