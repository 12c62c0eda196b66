"""Keeps Python's cycle collector away from loaded models.

TensorFlow and Keras leave hundreds of thousands of long-lived objects behind when a model
loads. A large JSON batch allocates thousands of lists, which triggers full collections, and
each full collection walked all of them: a 230 ms stall every few hundred batch-of-64
requests. Freezing moves the survivors to the permanent generation, out of the collector's
walk. It is redone whenever the set of loaded models changes, so an evicted model's cycles are
still collected (frozen objects are only ever freed by reference counting). That costs one
full collection (~170 ms with TensorFlow loaded) per model load or drop, instead of one every
few hundred requests.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()  # two loads finishing together would collect twice for nothing
_deferring = 0  # deferred() blocks in progress
_pending = False  # a refreeze was asked for inside one


def refreeze() -> None:
    """Collect what is garbage now, then freeze everything that is left."""
    global _pending
    with _lock:
        if _deferring:
            _pending = True
            return
        gc.unfreeze()
        gc.collect()
        gc.freeze()


@contextmanager
def deferred() -> Iterator[None]:
    """Refreezes asked for inside run once, at the end: warming 20 named models at start-up
    did 20 full collections, most of the time to ready."""
    global _deferring, _pending
    with _lock:
        _deferring += 1
    try:
        yield
    finally:
        with _lock:
            _deferring -= 1
            run, _pending = (_pending, False) if _deferring == 0 else (False, _pending)
        if run:
            refreeze()
