"""What the API answers about runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.db.models import EpochMetric, Run

RunStatus = Literal["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]
ACTIVE = ("queued", "running", "cancelling")
FINISHED = ("succeeded", "failed", "cancelled")


class Progress(BaseModel):
    epoch: int
    epochs: int


class Artifact(BaseModel):
    sha256: str
    bytes: int


class Reproducibility(BaseModel):
    spec_sha256: str
    seed: int
    tensorflow: str | None = None
    keras: str | None = None
    dataset_sha256: str | None = None


class Problem(BaseModel):
    pointer: str
    message: str
    hint: str = ""


class RunOut(BaseModel):
    id: str
    name: str
    status: RunStatus
    spec: dict[str, Any] = Field(description="the normalised spec the worker trains")
    warnings: list[Problem]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    metrics: dict[str, Any] | None = Field(description="the last epoch's metrics")
    evaluation: dict[str, Any] | None = Field(description="loss, accuracy and confusion matrix "
                                                          "on the held-out test split")
    failure_reason: str | None
    attempts: int
    artifact: Artifact | None
    reproducibility: Reproducibility

    @classmethod
    def of(cls, run: Run) -> RunOut:
        return cls(
            id=run.id, name=run.name, status=run.status, spec=run.spec,  # type: ignore[arg-type]
            warnings=[Problem(**w) for w in run.warnings], created_at=run.created_at,
            started_at=run.started_at, finished_at=run.finished_at,
            progress=Progress(epoch=run.epoch, epochs=run.epochs), metrics=run.last_metrics,
            evaluation=run.evaluation, failure_reason=run.failure_reason, attempts=run.attempts,
            artifact=Artifact(sha256=run.artifact_sha256, bytes=run.artifact_bytes)
            if run.artifact_sha256 and run.artifact_bytes is not None else None,
            reproducibility=Reproducibility(spec_sha256=run.spec_sha256,
                                            seed=run.spec["training"]["seed"],
                                            **run.reproducibility),
        )


class RunList(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at the end")


class EpochOut(BaseModel):
    epoch: int
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    values: dict[str, float] = Field(description="every metric Keras reported for the epoch")

    @classmethod
    def of(cls, m: EpochMetric) -> EpochOut:
        return cls(epoch=m.epoch, loss=m.loss, accuracy=m.accuracy, val_loss=m.val_loss,
                   val_accuracy=m.val_accuracy, seconds=m.seconds, values=m.values)


class MetricsOut(BaseModel):
    run_id: str
    epochs: list[EpochOut]


class ComparedRun(BaseModel):
    id: str
    name: str
    status: RunStatus
    progress: Progress
    metrics: dict[str, Any] | None = Field(description="the last epoch's metrics")
    test: dict[str, float] | None = Field(description="loss, accuracy, ... on the held-out split")
    train_seconds: float = Field(description="time spent in epochs, summed")


class SpecDifference(BaseModel):
    pointer: str = Field(description="JSON pointer into the normalised spec")
    values: list[Any] = Field(description="each run's value, in the order asked; null = absent")


class Best(BaseModel):
    test_accuracy: str | None = Field(description="run id with the highest test accuracy")
    test_loss: str | None = Field(description="run id with the lowest test loss (null when the "
                                              "runs minimise different losses)")


class Comparison(BaseModel):
    runs: list[ComparedRun]
    spec_differences: list[SpecDifference]
    best: Best
    warnings: list[Problem] = Field(description="why some numbers are not comparable")
