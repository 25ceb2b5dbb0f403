"""ui/ and resources/ ship inside the wheel (DESIGN.md) and are found there at run time.

The wheel is built from a copy of the sources in a temporary folder, so the build leaves
nothing (build/, *.egg-info) in the working tree other people are editing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DATA = (
    "hmi/ui/main_window.ui",
    "hmi/resources/config/demo.toml",
    "hmi/resources/theme/isa101.qss",
)


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("hmi", "ui", "resources"):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "setup.cfg"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed: pip install build (test extra)")
    root = tmp_path_factory.mktemp("packaging")
    source, dist = root / "src", root / "dist"
    _copy_sources(source)
    # Isolated, as a release build is: pip fetches setuptools and wheel for the build env.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"wheel build failed:\n{result.stdout}\n{result.stderr}"
    wheels = list(dist.glob("hmi-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_ui_and_resources(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [name for name in SHIPPED_DATA if name not in names]
        assert not missing, f"missing from {wheel.name}: {missing}"
        for name in SHIPPED_DATA:
            shipped = archive.read(name)
            source = ROOT / name.replace("hmi/ui/", "ui/").replace("hmi/resources/", "resources/")
            assert shipped == source.read_bytes(), f"{name} differs from {source}"


def test_wheel_holds_every_module_and_nothing_at_top_level(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "hmi").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    modules |= {"hmi/ui/__init__.py", "hmi/resources/__init__.py"}
    missing = sorted(modules - names)
    assert not missing, f"modules missing from {wheel.name}: {missing}"
    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("hmi-")}
    assert top_level == {"hmi"}, f"the wheel installs more than the hmi package: {top_level}"


def test_wheel_declares_the_hmi_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(
            archive.read(n).decode()
            for n in archive.namelist()
            if n.endswith(".dist-info/entry_points.txt")
        )
    assert "[console_scripts]" in entry_points
    assert "hmi = hmi.cli:main" in entry_points


def test_unpacked_wheel_finds_its_data_through_importlib_resources(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    probe = (
        "import json, hmi\n"
        "from importlib.resources import files\n"
        "print(json.dumps({\n"
        "  'package': hmi.__file__,\n"
        "  'ui': str(files('hmi.ui') / 'main_window.ui'),\n"
        "  'ui_ok': (files('hmi.ui') / 'main_window.ui').is_file(),\n"
        "  'qss_ok': (files('hmi.resources') / 'theme/isa101.qss').is_file(),\n"
        "  'demo': str(files('hmi.resources') / 'config/demo.toml'),\n"
        "}))\n"
    )
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["package"]).is_relative_to(site), f"not the wheel's hmi: {found}"
    assert Path(found["ui"]).is_relative_to(site), found
    assert found["ui_ok"], found
    assert found["qss_ok"], found

    check = subprocess.run(
        [sys.executable, "-m", "hmi", "check-config", found["demo"]],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
