"""The Celery application shared by the API (which sends) and `trainserve worker` (which runs).

A message says only "train run X": the run row holds everything else, and the worker
claims the run with the same lease and fencing as the local pool, so a duplicate or
redelivered message finds the run running or finished and does nothing.

Settings for tasks that run for hours (each with its reason):

* ``task_acks_late = False`` — the message is acknowledged when the task *starts*. With
  late acks an hour-long run keeps its message unacknowledged for an hour, which collides
  with both brokers' safety nets: Redis hands an unacked message to another worker after
  its ``visibility_timeout``, and RabbitMQ closes the channel of a consumer holding one past
  ``consumer_timeout`` (30 min by default, not settable per queue before 3.12). Early acks
  lose nothing here, because the broker is not the record: a worker that dies mid-run stops
  renewing its lease, the reaper puts the run back to ``queued`` with no dispatch, and
  ``redispatch`` sends a new message, so the run resumes from its stored checkpoint on
  whichever worker takes it.
* ``worker_prefetch_multiplier = 1`` (and ``worker_disable_prefetch`` on Redis) — a worker
  busy with a long run reserves at most one more message instead of four; a message held by
  a busy worker while others idle is noticed (the broker's queue is shorter than the queued
  runs) and sent again after ``TRAINSERVE_REDISPATCH_SECONDS``.
* ``visibility_timeout`` (Redis) of one hour: with early acks it only bounds how long a
  message reserved by a worker that died stays invisible; redispatch does not wait for it.
* No result backend, no retries by Celery: outcomes live in the runs table.
"""

from __future__ import annotations

from typing import Any

TASK = "trainserve.train"
BROKER_QUEUE_PREFIX = "trainserve."  # brokers are often shared: our queues carry our name


def broker_queue(queue: str) -> str:
    return f"{BROKER_QUEUE_PREFIX}{queue}"


def make_celery(broker_url: str) -> Any:
    from celery import Celery

    app = Celery("trainserve", broker=broker_url, set_as_current=False)
    conf: dict[str, Any] = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": False,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_default_queue": broker_queue("default"),
        "task_create_missing_queues": True,
        # The API must not hang on a broker that is down: fail fast, redispatch later.
        "broker_connection_timeout": 3,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": 3600},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "worker_enable_remote_control": False,
    }
    if broker_url.startswith("redis"):
        conf["worker_disable_prefetch"] = True
    app.conf.update(conf)
    return app
