"""``python -m lska_demo <command>``: the command line lives in ``lska_demo.cli``."""

from __future__ import annotations

import sys

from lska_demo.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
