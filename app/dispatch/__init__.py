"""Dispatch backends: ``local`` (worker processes poll the database) or ``celery``."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from app.dispatch.base import Dispatcher
from app.dispatch.local import LocalDispatcher

if TYPE_CHECKING:
    from app.settings import Settings

__all__ = ["Dispatcher", "dispatcher_for"]


def dispatcher_for(settings: Settings) -> Dispatcher:
    """The process's dispatcher for these settings (cached: it holds broker connections)."""
    if settings.queue == "local":
        return LocalDispatcher()
    return _celery(
        settings.broker_url,
        settings.resolved_database_url,
        tuple(settings.queues),
        settings.redispatch_seconds,
    )


@lru_cache(maxsize=4)
def _celery(
    broker_url: str, database_url: str, queues: tuple[str, ...], redispatch_seconds: float
) -> Dispatcher:
    from app.dispatch.celery import CeleryDispatcher

    return CeleryDispatcher(broker_url, database_url, list(queues), redispatch_seconds)
