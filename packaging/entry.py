"""PyInstaller entry script of the packaged AlphaCrystal Studio (``alphacrystal-gui``)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # spawn workers of the frozen app start here, not a GUI
    from alphacrystal_gui.app import main

    sys.exit(main())
