"""Keeps Python's cycle collector away from loaded models.

TensorFlow and Keras leave hundreds of thousands of long-lived objects behind when a model
loads. A large JSON batch allocates thousands of lists, which triggers full collections, and
each full collection walked all of them: a 230 ms stall every few hundred batch-of-64
requests. Freezing moves the survivors to the permanent generation, out of the collector's
walk. It is redone whenever the set of loaded models changes. A drop unfreezes first, so an evicted
model's cycles are still collected (frozen objects are only ever freed by reference counting):
one full collection (~170 ms with TensorFlow loaded). A load drops nothing, so it only walks
what came since the last freeze (the new model and little else) before freezing that too: at
start-up the full walk was ~50 ms of the time to ready, over objects that all stay alive.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()  # two loads finishing together would collect twice for nothing
_deferring = 0  # deferred() blocks in progress
_pending: bool | None = None  # a refreeze was asked for inside one: whether after a drop


def refreeze(dropped: bool = True) -> None:
    """Collect what is garbage now, then freeze everything that is left; without a ``dropped``
    model, what is frozen already is left out of the walk."""
    global _pending
    with _lock:
        if _deferring:
            _pending = bool(_pending) or dropped
            return
        if dropped:
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
            run, _pending = (_pending, None) if _deferring == 0 else (None, _pending)
        if run is not None:
            refreeze(dropped=run)
