"""Commands that measure and publish: report (the zoo's results table) and bench (speed and memory ratios).

Both can rewrite their block of the README (``--readme``), so no number in it is typed by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lska_demo.cli.common import command
from lska_demo.core.runtime import WEIGHTS_DIR


def _rewrite(readme: str | None, start: str, end: str, body: str) -> None:
    if readme:
        from lska_demo.zoo.report import replace_block

        path = Path(readme)
        path.write_text(replace_block(path.read_text(), start, end, body))


def _report(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.zoo.manifest import Manifest
    from lska_demo.zoo.report import END, START, markdown, results

    report = results(Manifest.load(args.weights_dir), imgsz=args.imgsz, folder=args.weights_dir)
    _rewrite(args.readme, START, END, markdown(report))
    return report


def _render_report(report: dict[str, Any]) -> str:
    from lska_demo.zoo.report import markdown

    return markdown(report)


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.app.bench import END, START, render, run

    result = run(args.only or [], args.repeats)
    _rewrite(args.readme, START, END, f"```\n$ python -m lska_demo bench\n{render(result)}\n```")
    return result


def _render_bench(result: dict[str, Any]) -> str:
    from lska_demo.app.bench import render

    return render(result)


def _domain_eval(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import asdict

    from lska_demo.benchmark.domain_eval import measure

    return asdict(measure(n_benchmark=args.n, seed=args.seed))


def register(sub: argparse._SubParsersAction) -> None:
    from lska_demo.app.bench import SECTIONS

    p = command(
        sub, "report", _report, "the zoo's results table (metrics from the manifest, cost measured now)", _render_report
    )
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--imgsz", type=int, default=None, help="input size for cost and latency (default: training size)")
    p.add_argument("--readme", default=None, help="rewrite the results block of this README")
    p = command(sub, "domain-eval", _domain_eval, "how often the domain note judges benchmark images and photos right")
    p.add_argument("--n", type=int, default=300, help="benchmark test images to judge")
    p.add_argument("--seed", type=int, default=0, help="the benchmark's seed")
    p = command(
        sub, "bench", _bench, "speed and memory ratios against their limits, measured in one run", _render_bench
    )
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--only", nargs="*", default=None, help=f"sections to run: {', '.join(SECTIONS)}")
    p.add_argument("--readme", default=None, help="rewrite the bench block of this README")
