"""How a running training is told to stop: one flag, checked by Keras after every batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.enums import StopReason


class RunControl:
    """Set from the lease thread (cancel, lease lost), a signal handler (shutdown), or the
    training loop itself (deadline, NaN); the first reason wins."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # time.time() after which the run is over its wall-clock cap
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason: StopReason | None = None
        self.detail: str = ""
        self._listeners: list[Callable[[], None]] = []

    def stop(self, reason: StopReason, detail: str = "") -> None:
        with self._lock:
            if self.reason is None:
                self.reason, self.detail = reason, detail
            listeners = list(self._listeners)
        self._event.set()
        for listener in listeners:
            listener()

    def on_stop(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the stopping thread) when stopped, or now if already: the
        training step loop uses it to end a call mid-chunk instead of at its end."""
        with self._lock:
            self._listeners.append(listener)
        if self.stopped:
            listener()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def over_deadline(self) -> bool:
        return time.time() > self.deadline

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)
