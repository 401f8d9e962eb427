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
