"""``python -m kernelbench``: the console command (see :mod:`kernelbench.cli`)."""

from __future__ import annotations

import sys

from kernelbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
