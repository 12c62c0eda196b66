"""Dispatch through a Celery broker (Redis or RabbitMQ)."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from app.dispatch import outbox
from app.dispatch.base import Dispatcher
from app.dispatch.celery_app import TASK, broker_queue, make_celery

log = logging.getLogger("trainserve.dispatch")


class CeleryDispatcher(Dispatcher):
    name = "celery"
    start_worker_hint = "`trainserve worker` (a Celery worker) on any machine"
    worker_entry = "app.training.celery_worker:run_worker"

    def __init__(
        self, broker_url: str, database_url: str, queues: list[str], redispatch_seconds: float
    ) -> None:
        self.app = make_celery(broker_url)
        self.url, self.queues, self.redispatch_seconds = database_url, queues, redispatch_seconds
        self._lock = threading.Lock()  # one redispatch at a time per process

    def local_pool_size(self, requested: int) -> int:
        return 0  # runs go to Celery workers (`trainserve worker` on any machine)

    @property
    def broker(self) -> str:
        """The broker URL with any password masked, for messages."""
        return str(self.app.connection_for_write().as_uri())

    def notify(self, run_id: str, queue: str) -> None:
        try:
            self._send([run_id], queue)
        except Exception as exc:
            log.warning(
                "run %s accepted but not yet dispatched (broker %s: %s); it will be sent "
                "when the broker answers",
                run_id,
                self.broker,
                exc,
                extra={"run_id": run_id},
            )

    def _send(self, run_ids: list[str], queue: str) -> int:
        sent: list[str] = []
        try:
            for run_id in run_ids:
                self.app.send_task(TASK, args=[run_id], queue=broker_queue(queue), retry=False)
                sent.append(run_id)
        finally:
            outbox.mark_dispatched(self.url, sent)
        return len(sent)

    def redispatch(self) -> int:
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return sum(self._redispatch(queue) for queue in self.queues)
        finally:
            self._lock.release()

    def _redispatch(self, queue: str) -> int:
        sent = self._send(outbox.undispatched(self.url, queue), queue)
        total, stale = outbox.waiting(
            self.url, queue, outbox.stale_before(self.redispatch_seconds), limit=500
        )
        if stale:
            # Queued runs beyond the broker's message count have lost their message (a broker
            # restarted without persistence, a message held by a worker that died or is busy).
            missing = total - self.depth(queue)
            if missing > 0:
                sent += self._send(stale[:missing], queue)
        if sent:
            log.info("dispatched %d waiting run(s) to queue %s", sent, queue)
        return sent

    def depth(self, queue: str) -> int:
        """Messages waiting in the broker's queue (0 when the queue does not exist yet)."""
        from kombu.exceptions import ChannelError

        with self.app.connection_for_write() as conn:
            channel: Any = conn.channel()
            try:
                return int(channel.queue_declare(queue=broker_queue(queue), passive=True)[1])
            except ChannelError:
                return 0
            except Exception as exc:
                if "NOT_FOUND" in str(exc) or "404" in str(exc):
                    return 0
                raise
            finally:
                with contextlib.suppress(Exception):  # a channel the broker closed is closed
                    channel.close()

    def problem(self) -> str | None:
        try:
            with self.app.connection_for_write() as conn:
                conn.connect()
        except Exception as exc:
            return f"broker {self.broker} is unreachable: {type(exc).__name__}: {exc}"
        return None
