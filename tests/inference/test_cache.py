"""ModelCache: LRU order, counters, one load per key under concurrency, eviction during a load.

The cache never looks inside what it stores, so plain objects stand in for predictors here.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.inference import gc_freeze
from app.inference.cache import ModelCache


def constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def test_hits_misses_and_least_recently_used_eviction() -> None:
    cache = ModelCache(max_entries=2)
    a, b, c = object(), object(), object()
    assert cache.get("a", constant(a)) is a
    assert cache.get("b", constant(b)) is b
    assert cache.get("a", constant(object())) is a  # a is now the most recent
    assert cache.get("c", constant(c)) is c  # so b goes
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)


def test_evict_and_clear() -> None:
    cache = ModelCache(max_entries=3)
    for key in "abc":
        cache.get(key, constant(key))
    cache.evict("b")
    cache.evict("unknown")  # nothing to do, no error
    assert "b" not in cache and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_concurrent_requests_load_a_key_once() -> None:
    cache = ModelCache(max_entries=4)
    calls = 0
    release = threading.Event()

    def slow_loader() -> object:
        nonlocal calls
        calls += 1
        release.wait(5)
        return "model"

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(cache.get, "run-1", slow_loader) for _ in range(8)]
        release.set()
        assert [f.result(timeout=5) for f in futures] == ["model"] * 8
    assert calls == 1
    assert (cache.hits, cache.misses) == (7, 1)


def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache = ModelCache(max_entries=4)
    started, release = threading.Event(), threading.Event()

    def failing_loader() -> object:
        started.set()
        release.wait(5)
        raise RuntimeError("broken artifact")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(cache.get, "run-1", failing_loader)
        started.wait(5)
        second = pool.submit(cache.get, "run-1", constant("never called"))
        release.set()
        for future in (first, second):
            with pytest.raises(RuntimeError, match="broken artifact"):
                future.result(timeout=5)
    assert cache.get("run-1", constant("retried")) == "retried"


def test_a_key_evicted_while_loading_is_not_kept() -> None:
    cache = ModelCache(max_entries=4)
    started, release = threading.Event(), threading.Event()

    def loader() -> object:
        started.set()
        release.wait(5)
        return "stale"

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(cache.get, "run-1", loader)
        started.wait(5)
        cache.evict("run-1")  # e.g. the run was deleted meanwhile
        release.set()
        assert future.result(timeout=5) == "stale"  # its caller still gets an answer
    assert "run-1" not in cache


def test_other_keys_are_served_while_one_loads() -> None:
    cache = ModelCache(max_entries=4)
    cache.get("ready", constant("fast"))
    started, release = threading.Event(), threading.Event()

    def slow_loader() -> object:
        started.set()
        release.wait(5)
        return "slow"

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(cache.get, "loading", slow_loader)
        started.wait(5)
        assert cache.get("ready", constant("unused")) == "fast"  # no waiting on the lock
        release.set()
        future.result(timeout=5)


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ModelCache(max_entries=0)


class _Model:
    """Stands in for a Keras model: objects that refer to each other (a reference cycle)."""

    def __init__(self) -> None:
        self.layers = [self]


def test_loaded_models_are_frozen_and_evicted_ones_still_freed() -> None:
    cache = ModelCache(max_entries=1, on_change=gc_freeze.refreeze)
    try:
        first = weakref.ref(cache.get("a", _Model))
        assert gc.get_freeze_count() > 0  # the collector no longer walks what is loaded
        cache.get("b", _Model)  # pushes "a" out
        cache.evict("b")
        assert first() is None  # a frozen cycle would never be collected
        assert len(cache) == 0
    finally:
        gc.unfreeze()


def test_refreezes_asked_for_while_deferred_run_once_at_the_end() -> None:
    cache = ModelCache(max_entries=2, on_change=gc_freeze.refreeze)
    gc.unfreeze()
    try:
        with gc_freeze.deferred():  # as the start-up warm-up of every named model does
            cache.get("a", _Model)
            cache.get("b", _Model)
            assert gc.get_freeze_count() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_on_change_follows_stores_and_drops_only() -> None:
    calls: list[tuple[int, bool]] = []
    cache = ModelCache(max_entries=2, on_change=lambda dropped: calls.append((len(cache), dropped)))
    cache.get("a", constant(1))
    cache.get("a", constant(1))  # a hit changes nothing
    cache.evict("unknown")
    cache.evict("a")
    cache.clear()  # already empty
    cache.get("b", constant(2))
    cache.get("c", constant(3))
    cache.get("d", constant(4))  # pushes "b" out
    assert calls == [(1, False), (0, True), (1, False), (2, False), (2, True)]
