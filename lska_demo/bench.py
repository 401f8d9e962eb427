"""``python -m lska_demo bench``: speed and memory ratios measured in one run."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """The bench command is added here."""
