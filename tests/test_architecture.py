"""core/ must stay importable without Qt or vispy (a headless server, the CLI)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "vispy", "pyqtgraph", "alphacrystal_gui")


def test_core_sources_do_not_import_gui_modules():
    pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(GUI_MODULES)})\b", re.MULTILINE)
    offenders = [str(p) for p in (ROOT / "core").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_core_loads_no_gui_module():
    code = (
        "import sys, core, core.cli, core.featurize, core.metrics, core.io, core.datasets\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
