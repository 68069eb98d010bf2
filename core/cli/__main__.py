"""``python -m core.cli``: the ``alphacrystal`` command."""

import sys

from core.cli.main import main

sys.exit(main())
