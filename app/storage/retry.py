"""Retrying store calls with exponential backoff (workers only: the API answers 503 at once)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from app.storage.base import StoreError

T = TypeVar("T")
log = logging.getLogger("trainserve.storage")


def with_retries(
    fn: Callable[[], T],
    retries: int,
    first_delay: float,
    stop: threading.Event | None = None,
    what: str = "store call",
) -> T:
    """``fn()``, retried on ``StoreError`` up to ``retries`` times, waiting first_delay, 2x, 4x…

    A store that is briefly unreachable (restart, failover, network blip) must not fail an
    hour of training; one that stays down is reported by re-raising the last error.
    ``stop`` cuts the waiting short (shutdown).
    """
    delay = first_delay
    for attempt in range(retries + 1):
        try:
            return fn()
        except StoreError as exc:
            if attempt == retries or (stop is not None and stop.is_set()):
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, exc.reason, delay)
            if stop is not None:
                stop.wait(delay)
            else:
                threading.Event().wait(delay)
            delay *= 2
    raise AssertionError("unreachable")
