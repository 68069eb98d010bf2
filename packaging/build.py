"""Build the one-folder desktop app ``dist/AlphaCrystalStudio/`` with PyInstaller.

Usage (from the repository root, in the project's virtual environment)::

    pip install pyinstaller
    python packaging/build.py            # build (about ten minutes on 2 cores)
    xvfb-run -a dist/AlphaCrystalStudio/AlphaCrystalStudio --smoke   # check it

The bundle carries the shipped models (``resources``), pymatgen's data
(element tables, colour schemes, VASP input sets), pyxtal's Wyckoff tables,
vispy's shaders and CHGNet's pretrained weights, so it runs offline.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OPTIONS = [
    "--name", "AlphaCrystalStudio",
    "--onedir",
    "--noconfirm",
    "--clean",
    "--distpath", str(ROOT / "dist"),
    "--workpath", str(ROOT / "build" / "pyinstaller"),
    "--specpath", str(ROOT / "build"),
    # the packages themselves (an editable install is invisible to PyInstaller's analysis)
    "--paths", str(ROOT),
    "--hidden-import", "alphacrystal_gui.app",
    # 3D view: vispy loads its Qt backend by name and reads GLSL shaders from package data
    "--collect-data", "vispy",
    "--hidden-import", "vispy.app.backends._pyside6",
    # CHGNet finds its pretrained weights next to chgnet/model/
    "--collect-data", "chgnet",
    "--collect-submodules", "chgnet",
    # data files read at run time
    "--collect-data", "pymatgen",
    "--collect-data", "pyxtal",
    "--collect-data", "resources",
    "--collect-data", "pyqtgraph",
    "--hidden-import", "spglib",
    # not used by the app: keep the bundle smaller
    "--exclude-module", "tkinter",
    "--exclude-module", "IPython",
    "--exclude-module", "pytest",
]


def chgnet_weights() -> list[str]:
    """``--add-data`` for CHGNet's pretrained weights (``*.pth.tar`` are not picked up by
    ``--collect-data``; CHGNet opens ``chgnet/model/../pretrained/...``, so a
    ``chgnet/model/`` folder must exist in the bundle too)."""
    import importlib.util
    import os

    package = Path(importlib.util.find_spec("chgnet").submodule_search_locations[0])
    return ["--add-data", f"{package / 'pretrained'}{os.pathsep}chgnet/pretrained",
            # the path goes through chgnet/model/, which must exist as a folder in the bundle
            "--add-data", f"{package / 'model' / '__init__.py'}{os.pathsep}chgnet/model"]


def main() -> int:
    import PyInstaller.__main__

    start = time.perf_counter()
    PyInstaller.__main__.run([*OPTIONS, *chgnet_weights(), str(ROOT / "packaging" / "entry.py")])
    app = ROOT / "dist" / "AlphaCrystalStudio"
    size = sum(f.stat().st_size for f in app.rglob("*") if f.is_file())
    print(f"built {app} in {time.perf_counter() - start:.0f} s: {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
