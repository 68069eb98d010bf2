"""core/ must stay importable without Qt or vispy (a headless server, the CLI)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "vispy", "pyqtgraph", "alphacrystal_gui")


def test_core_sources_do_not_import_gui_modules():
    pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(GUI_MODULES)})\b", re.MULTILINE)
    offenders = [str(p) for p in (ROOT / "core").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_core_loads_no_gui_module():
    code = (
        "import sys, core, core.cli, core.data.featurize, core.contact.metrics, core.io.read, core.io.write, core.data.datasets\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gui_uses_only_the_documented_core_api():
    """Widgets talk to the engine through ``core``'s public names (``core/__init__.py``), never its modules."""
    import core

    deep = re.compile(r"^\s*(from\s+core\.\S+\s+import|import\s+core\.)", re.MULTILINE)
    offenders = [str(p) for p in (ROOT / "alphacrystal_gui").rglob("*.py") if deep.search(p.read_text())]
    assert offenders == []
    for path in (ROOT / "alphacrystal_gui").rglob("*.py"):
        for block in re.findall(r"^from core import \(([^)]*)\)|^from core import (.*)$", path.read_text(), re.MULTILINE):
            for name in re.split(r"[,\s]+", " ".join(block)):
                if name and not name.startswith("#"):
                    assert name in core.__all__, f"{path.name} imports core.{name}, which is not public API"


def test_the_gui_reaches_core_only_through_its_public_names():
    """No ``core.<module>.<name>`` attribute chains in the GUI either (an import-free way
    round the contract): every ``core.X`` the GUI reads is a public name."""
    import ast

    import core

    offenders = []
    for path in (ROOT / "alphacrystal_gui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "core"
                    and node.attr not in (*core.__all__, "__all__")):
                offenders.append(f"{path.name}:{node.lineno} core.{node.attr}")
    assert offenders == []


def test_process_pools_do_not_import_back_up_from_the_relaxer():
    text = (ROOT / "core" / "relax" / "relaxer.py").read_text()
    assert "core.reconstruction" not in text and "core.runtime.parallel" in text


def test_core_keeps_its_layers_and_never_imports_qt():
    """The import-linter contracts of ``.importlinter``: each layer of core/ imports only the
    layers below it (imports inside functions included) and core never imports Qt."""
    pytest.importorskip("importlinter")
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                             "sys.exit(lint_imports_command())"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_package_of_core_says_what_it_holds_and_may_import():
    for init in (ROOT / "core").glob("*/__init__.py"):
        text = init.read_text()
        assert text.lstrip().startswith('"""'), f"{init.parent.name} has no docstring"


def test_every_public_name_of_core_loads_and_the_frozen_app_collects_their_modules():
    """The lazy names of core/__init__.py are imported by module name, which PyInstaller's
    analysis does not follow: the build collects every module of core, and the frozen
    app's --smoke run loads every public name first (CI builds it and runs that)."""
    import importlib.util
    import sys

    from alphacrystal_gui.app import unresolved_public_names

    assert unresolved_public_names() == []
    spec = importlib.util.spec_from_file_location("packaging_build", ROOT / "packaging" / "build.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("packaging_build", build)
    spec.loader.exec_module(build)
    pairs = set(zip(build.OPTIONS, build.OPTIONS[1:]))
    assert ("--collect-submodules", "core") in pairs and ("--collect-submodules", "alphacrystal_gui") in pairs


TYPED_LAYERS = ("core",)
"""What mypy keeps clean: all of the engine (docs/architecture.md)."""


def test_the_engine_type_checks(tmp_path):
    """mypy over :data:`TYPED_LAYERS` finds no error (about a minute on 2 cores, from a cold cache)."""
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", *TYPED_LAYERS, "--ignore-missing-imports",
                             "--follow-imports=silent", "--cache-dir", str(tmp_path / "mypy")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
