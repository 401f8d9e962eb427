"""The bounded, thread-safe model cache."""

from __future__ import annotations

import threading
import time

import pytest

from lska_demo.core.cache import ModelCache


def test_cache_is_bounded_and_least_recently_used() -> None:
    cache = ModelCache(maxsize=3)
    for key in "abcd":
        cache.get(key, lambda key=key: key.upper())
    assert len(cache) == 3 and cache.keys() == ["b", "c", "d"]
    cache.get("b", lambda: pytest.fail("b is cached: it must not be rebuilt"))
    cache.get("e", lambda: "E")
    assert cache.keys() == ["d", "b", "e"]  # c was the least recently used


def test_cache_builds_each_key_once_under_concurrency() -> None:
    cache, calls = ModelCache(maxsize=2), []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "model"

    threads = [threading.Thread(target=cache.get, args=("k", slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]


def test_cache_does_not_keep_failures() -> None:
    cache = ModelCache(maxsize=2)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get("k", lambda: "ok") == "ok"


def test_detection_never_waits_for_the_models_own_lock() -> None:
    """Issue 21, item 10: the fused copy shared the model's lock, so a visitor's compare waited out another
    visitor's whole ERF (or CAM, or latency run) on the same pair."""
    from torch import nn

    from lska_demo.core.cache import LoadedModel

    loaded = LoadedModel(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval(), "m", True, "", 64)
    with loaded.use_fused():  # the copy is built once, while nothing else holds the model
        pass
    held, release = threading.Event(), threading.Event()

    def long_analysis() -> None:
        with loaded.use():
            held.set()
            release.wait(10)

    worker = threading.Thread(target=long_analysis)
    worker.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with loaded.use_fused() as fused:
            assert fused is not loaded.model
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        worker.join()
