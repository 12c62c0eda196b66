"""The embedded default: worker processes poll the runs table, so there is nothing to send."""

from __future__ import annotations

from app.dispatch.base import Dispatcher


class LocalDispatcher(Dispatcher):
    name = "local"

    def notify(self, run_id: str, queue: str) -> None:
        return None  # the next poll of an idle worker finds it

    def redispatch(self) -> int:
        return 0

    def problem(self) -> str | None:
        return None
