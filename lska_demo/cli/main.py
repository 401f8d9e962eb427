"""``python -m lska_demo <command>``: every command prints text, or JSON on stdout with ``--json``."""

from __future__ import annotations

import argparse
import json
import sys

from lska_demo.cli import analysis, deploy, models, results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lska_demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (models, analysis, results, deploy):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    elif args.render is not None:
        print(args.render(result))
    elif result is not None:
        print(json.dumps(result, indent=2, default=str))
    return 0
