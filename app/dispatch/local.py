"""The embedded default: worker processes poll the runs table, so there is nothing to send."""

from __future__ import annotations

from app.dispatch.base import Dispatcher


class LocalDispatcher(Dispatcher):
    name = "local"
    start_worker_hint = "`trainserve worker` or TRAINSERVE_WORKERS >= 1"
    worker_entry = "app.training.worker:run_polling_worker"

    def local_pool_size(self, requested: int) -> int:
        return requested

    def notify(self, run_id: str, queue: str) -> None:
        return None  # the next poll of an idle worker finds it

    def redispatch(self) -> int:
        return 0

    def problem(self) -> str | None:
        return None
