"""The process-wide cache of loaded predictors."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.inference.predictor import Predictor


class _Pending:
    """One load in progress; threads asking for the same key wait for it instead of loading."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Predictor | None = None
        self._error: BaseException | None = None

    def resolve(self, value: Predictor) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self) -> Predictor:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class ModelCache:
    """Process-wide, thread-safe LRU of loaded predictors: global mutable state on purpose.

    A model is loaded at most once per key, even when many requests for it arrive together:
    the first caller loads (outside the lock, so other keys are served meanwhile) and the
    others wait for its result or its error. A key evicted while it loads is handed to its
    callers but not kept, so a deleted run cannot come back.
    """

    def __init__(self, max_entries: int, on_change: Callable[[bool], None] | None = None) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        # Called, outside the lock, after a predictor was stored or dropped: with whether one
        # was dropped (gc_freeze.refreeze only unfreezes then).
        self._on_change = on_change or (lambda dropped: None)
        self._entries: OrderedDict[Hashable, Predictor] = OrderedDict()
        self._loading: dict[Hashable, _Pending] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, loader: Callable[[], Predictor]) -> Predictor:
        """The cached predictor for ``key``, calling ``loader`` only if nobody has yet."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            pending = self._loading.get(key)
            owner = pending is None
            if pending is None:
                pending = self._loading[key] = _Pending()
                self.misses += 1
            else:
                self.hits += 1  # counts answers that needed no load of their own
        return self._load(key, loader, pending) if owner else pending.wait()

    def _load(self, key: Hashable, loader: Callable[[], Predictor], pending: _Pending) -> Predictor:
        try:
            value = loader()
        except BaseException as exc:
            with self._lock:
                if self._loading.get(key) is pending:
                    del self._loading[key]
            pending.fail(exc)
            raise
        dropped = False
        with self._lock:
            if self._loading.get(key) is pending:
                del self._loading[key]
                dropped = self._store(key, value)
        pending.resolve(value)
        self._on_change(dropped)
        return value

    def _store(self, key: Hashable, value: Predictor) -> bool:
        """Whether the least recently used entry had to go."""
        self._entries[key] = value
        dropped = False
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            dropped = True
        return dropped

    def peek(self, key: Hashable) -> Predictor | None:
        """The loaded predictor for ``key``, or None without loading (counted as a hit)."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return value

    def evict(self, key: Hashable) -> None:
        """Forget ``key``, e.g. when its run is deleted; a load in progress is not kept."""
        with self._lock:
            dropped = self._entries.pop(key, None)
            self._loading.pop(key, None)
        if dropped is not None:
            self._on_change(True)

    def clear(self) -> None:
        with self._lock:
            had_entries = bool(self._entries)
            self._entries.clear()
            self._loading.clear()
        if had_entries:
            self._on_change(True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries
