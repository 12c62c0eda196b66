"""How a queued run reaches a worker: one small interface, chosen by ``TRAINSERVE_QUEUE``.

The run row is the single source of truth in every backend. A backend only *tells*
workers that a run is waiting; whatever it loses (a message dropped by a restarted broker,
one held by a worker that died) the database still knows, and ``redispatch`` sends again.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings


class Dispatcher(ABC):
    name: str
    #: How an operator starts a worker for this backend (the /readyz hint).
    start_worker_hint: str
    #: ``module:function(settings, concurrency)`` that runs one worker until it is stopped.
    #: Named, not imported: workers live in app.training, a layer above dispatch.
    worker_entry: str

    @abstractmethod
    def local_pool_size(self, requested: int) -> int:
        """How many polling worker processes ``serve`` starts beside the API."""

    def run_worker(self, settings: Settings, concurrency: int) -> None:
        """Block running one worker of this backend (`trainserve worker`)."""
        module, _, function = self.worker_entry.partition(":")
        getattr(importlib.import_module(module), function)(settings, concurrency)

    @abstractmethod
    def notify(self, run_id: str, queue: str) -> None:
        """Tell workers of ``queue`` that the committed run ``run_id`` waits. Never raises:
        a run that could not be announced now is announced by ``redispatch`` later."""

    @abstractmethod
    def redispatch(self) -> int:
        """Announce queued runs whose announcement never reached, or was lost by, the
        backend; returns how many were sent. Safe to call from many processes at once."""

    @abstractmethod
    def problem(self) -> str | None:
        """Why the backend cannot take runs now (for /readyz), or None."""
