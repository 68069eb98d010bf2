"""Build the one-folder desktop app ``dist/AlphaCrystalStudio/`` with PyInstaller.

Usage (from the repository root, in the project's virtual environment)::

    pip install pyinstaller
    python packaging/build.py            # build (3-4 minutes on 2 cores)
    xvfb-run -a dist/AlphaCrystalStudio/AlphaCrystalStudio --smoke   # check it
    python packaging/build.py --check    # both: build, then the smoke run (under xvfb-run
                                         # when there is no display)

The bundle carries the shipped models (``resources``), pymatgen's data
(element tables, colour schemes, VASP input sets), pyxtal's Wyckoff tables,
vispy's shaders and CHGNet's pretrained weights, so it runs offline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
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
    # hooks of our own: packages whose TorchScript needs their source (e3nn, sevenn)
    "--additional-hooks-dir", str(ROOT / "packaging" / "hooks"),
    # the packages themselves (an editable install is invisible to PyInstaller's analysis)
    "--paths", str(ROOT),
    "--hidden-import", "alphacrystal_gui.app",
    # every module of ours: core/__init__.py loads its lazy names with importlib, which the
    # analysis does not follow (a frozen app without core.predict.pipeline failed at start-up)
    "--collect-submodules", "core",
    "--collect-submodules", "alphacrystal_gui",
    # 3D view: vispy loads its Qt backend by name and reads GLSL shaders from package data
    "--collect-data", "vispy",
    "--hidden-import", "vispy.app.backends._pyside6",
    # ... and the 3D view renders offscreen through vispy's EGL backend where EGL works
    "--hidden-import", "vispy.app.backends._egl",
    "--hidden-import", "vispy.ext.egl",
    # CHGNet finds its pretrained weights next to chgnet/model/
    "--collect-data", "chgnet",
    "--collect-submodules", "chgnet",
    # SevenNet-0 (--potential sevennet): weights under sevenn/pretrained_potentials/, e3nn's
    # constants and torch_geometric are imported by name
    "--collect-data", "sevenn",
    "--collect-submodules", "sevenn",
    "--collect-data", "e3nn",
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


APP = ROOT / "dist" / "AlphaCrystalStudio"


def smoke_command(app: Path = APP) -> list[str]:
    """The built app's ``--smoke`` run, under ``xvfb-run`` when there is no display."""
    command = [str(app / ("AlphaCrystalStudio.exe" if os.name == "nt" else "AlphaCrystalStudio")), "--smoke"]
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", *command]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build dist/AlphaCrystalStudio with PyInstaller.")
    parser.add_argument("--check", action="store_true", help="run the built app's --smoke check afterwards")
    args = parser.parse_args(argv)
    unfinished = sorted((ROOT / "resources").glob("*.partial"))
    if unfinished:  # --collect-data resources would ship a reference build's half-made checkpoint
        print(f"error: {', '.join(p.name for p in unfinished)} in resources/: a build-references run is not "
              "finished (its checkpoint folder); finish it or remove the folder, then build", file=sys.stderr)
        return 2
    import PyInstaller.__main__

    start = time.perf_counter()
    PyInstaller.__main__.run([*OPTIONS, *chgnet_weights(), str(ROOT / "packaging" / "entry.py")])
    size = sum(f.stat().st_size for f in APP.rglob("*") if f.is_file())
    print(f"built {APP} in {time.perf_counter() - start:.0f} s: {size / 1e6:.0f} MB", flush=True)
    if not args.check:
        return 0
    command = smoke_command()
    print("checking:", " ".join(command), flush=True)
    start = time.perf_counter()
    code = subprocess.call(command)
    print(f"smoke run exit code {code} ({time.perf_counter() - start:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
