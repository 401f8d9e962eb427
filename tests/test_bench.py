"""The bench's machinery (no timing asserted): interleaved rounds, spreads on every latency row, the README block."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lska_demo.app import bench
from lska_demo.app.bench import END, MIN_ROUNDS, START, Check, Rounds, _interleaved, spread_of
from lska_demo.cli.results import _bench


def test_rounds_are_interleaved_and_at_least_five() -> None:
    calls: list[str] = []
    rounds = _interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2)
    assert calls == ["a", "b"] * (1 + MIN_ROUNDS)  # one warm-up call each, then a, b per round
    assert len(rounds.ms["a"]) == len(rounds.ms["b"]) == MIN_ROUNDS


def test_a_ratio_row_is_the_median_per_round_ratio_with_its_spread() -> None:
    rounds = Rounds({"slow": [2.0, 4.0, 9.0, 2.0, 3.0], "fast": [1.0, 1.0, 3.0, 2.0, 1.0]})
    check = rounds.ratio_check("slow / fast", "slow", "fast", limit=None)
    assert rounds.ratios("slow", "fast") == [2.0, 4.0, 3.0, 1.0, 3.0]
    assert check.value == 3.0 and check.spread == [1.0, 3.0, 4.0] and check.rounds == 5
    assert "[min 1 · med 3 · max 4, 5 rounds]" in check.line()
    assert spread_of([3.0, 1.0, 2.0]) == [1.0, 2.0, 3.0]


def test_the_readme_block_is_rewritten_with_spreads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = Check("fake latency", 1.5, "x", 2.0, "detail", spread=[1.0, 1.5, 3.0], rounds=5)
    monkeypatch.setitem(bench.SECTIONS, "fake", lambda repeats: [row])
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\nold\n{END}\nafter\n")
    _bench(argparse.Namespace(only=["fake"], repeats=1, readme=str(readme)))
    text = readme.read_text()
    assert "old" not in text and "fake latency" in text and "max 3, 5 rounds" in text
    assert text.startswith("before\n") and text.endswith(f"{END}\nafter\n")
