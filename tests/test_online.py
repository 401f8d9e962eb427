"""The yolov8n.pt source probe: local file, offline switch, reachable or not; visitor text is plain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lska_demo.app.online import PRETRAINED, SourceAvailability, can_reach, pretrained_availability
from lska_demo.core.runtime import PROJECT_ROOT

OPERATOR_WORDS = ("/", "YOLO_", "SPACE_ID", "OFFLINE", ".pt", "weights", "folder")


def _visitor_text_is_plain(result: SourceAvailability) -> None:
    assert result.visitor_reason and not any(word in result.visitor_reason for word in OPERATOR_WORDS)


def _never(host: str, port: int, timeout: float) -> bool:
    raise AssertionError("the network must not be probed here")


def test_a_local_file_is_enough_without_network(tmp_path: Path) -> None:
    (tmp_path / PRETRAINED).write_bytes(b"weights")
    result = pretrained_availability(folder=tmp_path, search_dirs=[], env={"YOLO_OFFLINE": "1"}, reach=_never)
    assert result.available and str(tmp_path) in result.operator_detail
    _visitor_text_is_plain(result)


def test_ultralytics_cache_counts(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / PRETRAINED).write_bytes(b"weights")
    result = pretrained_availability(folder=tmp_path / "empty", search_dirs=[cache], env={}, reach=_never)
    assert result.available and str(cache) in result.operator_detail


@pytest.mark.parametrize("value", ["1", "True", " yes "])
def test_offline_switch_makes_it_unavailable(tmp_path: Path, value: str) -> None:
    result = pretrained_availability(folder=tmp_path, search_dirs=[], env={"YOLO_OFFLINE": value}, reach=_never)
    assert not result.available and "YOLO_OFFLINE" in result.operator_detail and str(tmp_path) in result.operator_detail
    _visitor_text_is_plain(result)


@pytest.mark.parametrize("reachable", [True, False])
def test_online_depends_on_reaching_the_release_host(tmp_path: Path, reachable: bool) -> None:
    asked: list[tuple[str, int, float]] = []

    def reach(host: str, port: int, timeout: float) -> bool:
        asked.append((host, port, timeout))
        return reachable

    env = {"YOLO_OFFLINE": "0", "SPACE_ID": "someone/lska-lens"}
    result = pretrained_availability(folder=tmp_path, search_dirs=[], env=env, reach=reach)
    assert result.available is reachable and len(asked) == 1 and asked[0][2] <= 5
    assert "someone/lska-lens" in result.operator_detail
    _visitor_text_is_plain(result)


def test_can_reach_is_bounded_and_false_for_a_closed_port() -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert can_reach("127.0.0.1", port, 1.0) is False


@pytest.mark.parametrize(("space", "expected"), [(None, "1"), ("someone/lska-lens", "0")])
def test_downloads_are_allowed_by_default_only_on_a_space(space: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("YOLO_OFFLINE", "SPACE_ID")}
    if space:
        env["SPACE_ID"] = space
    code = "import os, lska_demo.core.runtime as r; r.configure_environment(); print(os.environ['YOLO_OFFLINE'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == expected, out.stderr[-2000:]
