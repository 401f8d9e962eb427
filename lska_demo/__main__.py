"""``python -m lska_demo <command>``: every command prints text, or JSON on stdout with ``--json``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# Each module exposes ``register(subparsers)``; its commands set ``handler`` (args -> data) and
# optionally ``render`` (data -> text).
COMMAND_GROUPS = ("lska_demo.commands", "lska_demo.analysis.commands", "lska_demo.report", "lska_demo.bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lska_demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        importlib.import_module(group).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
    elif getattr(args, "render", None) is not None:
        print(args.render(result))
    elif result is not None:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
