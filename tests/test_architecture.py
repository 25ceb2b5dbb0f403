"""The layer rules of DESIGN.md: import-linter contracts, plus a Qt check that also sees
imports inside functions and a check of what importing the non-GUI layers loads."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hmi"
# ui/ and resources/ ship as hmi.ui and hmi.resources
PACKAGE_DIRS = {"hmi": PACKAGE, "hmi.ui": ROOT / "ui", "hmi.resources": ROOT / "resources"}
QT_PACKAGES = {"PySide6", "shiboken6", "pyqtgraph", "qasync"}
QT_ALLOWED = {"hmi.app"}  # and hmi.gui.*: the GUI layer and the composition root


def _lint_imports_command() -> list[str]:
    script = Path(sys.executable).parent / "lint-imports"
    if script.is_file():
        return [str(script)]
    on_path = shutil.which("lint-imports")
    if on_path:
        return [on_path]
    pytest.skip("import-linter is not installed (no lint-imports): pip install import-linter")


def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [*_lint_imports_command(), "--no-cache", "--no-logo"],
        cwd=ROOT,  # reads [tool.importlinter] from pyproject.toml
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"import-linter contracts broken:\n{output}"
    assert "BROKEN" not in output, output
    assert " 0 broken" in output, output
    kept = sum(1 for line in output.splitlines() if line.rstrip().endswith(" KEPT"))
    assert kept >= 5, f"expected the 5 contracts of pyproject.toml, saw {kept}:\n{output}"


def _modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), path


def _imported_top_levels(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Top-level package of every absolute import anywhere in the tree (functions,
    methods, try blocks, TYPE_CHECKING) and of literal importlib.import_module calls."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            dynamic = name in {"import_module", "__import__"}
            if dynamic and isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value.split(".")[0], node.lineno


def _qt_allowed(module: str) -> bool:
    return module in QT_ALLOWED or module == "hmi.gui" or module.startswith("hmi.gui.")


def test_the_walker_sees_lazy_and_dynamic_imports() -> None:
    source = (
        "import os\n"
        "def show():\n"
        "    from PySide6.QtWidgets import QLabel\n"
        "class Plot:\n"
        "    def draw(self):\n"
        "        import pyqtgraph as pg\n"
        "try:\n"
        "    import qasync\n"
        "except ImportError:\n"
        "    pass\n"
        "import importlib\n"
        "importlib.import_module('shiboken6')\n"
    )
    found = {name for name, _ in _imported_top_levels(ast.parse(source))} & QT_PACKAGES
    assert found == QT_PACKAGES


def test_no_qt_import_outside_the_gui_and_the_composition_root() -> None:
    modules = dict(_modules())
    assert "hmi.cli" in modules
    assert "hmi.gui.main_window" in modules
    offenders = []
    for module, path in modules.items():
        if _qt_allowed(module):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line in _imported_top_levels(tree):
            if name in QT_PACKAGES:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not offenders, "Qt outside hmi/gui and hmi/app.py:\n" + "\n".join(offenders)


def test_importing_the_non_gui_layers_loads_no_qt() -> None:
    """Catches Qt arriving indirectly, through a third-party import, too."""
    modules = sorted(m for m in dict(_modules()) if not _qt_allowed(m) and m != "hmi.__main__")
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"qt = {sorted(QT_PACKAGES)!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in qt)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"Qt loaded by the non-GUI layers: {result.stdout}"
