"""The closed vocabularies of a run, in one place: the database column, the event feed, the
metrics, the logs and the API schema all use these members, never bare strings.

They are ``StrEnum``s, so a member *is* its string: it compares equal to ``"queued"``,
serialises as ``"queued"`` in JSON, and needs no conversion at the edges.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"  # asked to stop; its worker has not noticed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


# A worker holds the run (it has a lease) exactly while it is in one of these.
OWNED = (RunStatus.RUNNING, RunStatus.CANCELLING)
ACTIVE = (RunStatus.QUEUED, *OWNED)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class StopReason(StrEnum):
    """Why a training stopped before its last epoch (``RunControl.reason``)."""

    CANCEL = "cancel"  # the user cancelled the run
    SHUTDOWN = "shutdown"  # the worker got SIGTERM: requeue, resume elsewhere
    LOST = "lost"  # our lease expired and another worker owns the run now
    DEADLINE = "deadline"  # over the wall-clock cap
    NAN = "nan"  # the loss stopped being a finite number
    STORE = "store"  # the artifact store kept refusing writes: requeue, never succeed
    PRUNED = "pruned"  # a sweep's pruner judged the trial hopeless: it ends cancelled
    DONE = "done"  # the attempt is over (stops the lease thread)


class SweepStatus(StrEnum):
    RUNNING = "running"  # queuing trials up to its budget
    SUCCEEDED = "succeeded"  # every trial finished and at least one succeeded
    FAILED = "failed"  # every trial finished, none succeeded
    CANCELLED = "cancelled"


class EventType(StrEnum):
    """The ``event:`` field of the server-sent events of ``GET /v1/runs/{id}/events``."""

    STATUS = "status"
    EPOCH = "epoch"
    DONE = "done"


class Task(StrEnum):
    """What a network's output answers (``app.runs.spec.task_of`` decides it from a spec)."""

    BINARY = "binary"  # one sigmoid unit: the second class or the first
    MULTICLASS = "multiclass"  # one unit per class
    MULTILABEL = "multilabel"  # independent yes/no answers
    REGRESSION = "regression"  # the digit's value
