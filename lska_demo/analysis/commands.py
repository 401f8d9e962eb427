"""CLI commands for the analysis engine."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Analysis commands are added here."""
