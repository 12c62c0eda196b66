"""What the API answers about runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.db.tables import EpochMetric, Run
from app.enums import RunStatus


class Progress(BaseModel):
    epoch: int
    epochs: int


class Artifact(BaseModel):
    sha256: str
    bytes: int


class Export(BaseModel):
    """One portable copy of the trained model, verified on the held-out test split."""

    status: Literal["available", "unavailable"]
    reason: str | None = Field(None, description="why the format is unavailable")
    file: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    runtime: str | None = Field(None, description="the runtime that ran it: onnxruntime, litert")
    max_abs_diff: float | None = Field(
        None, description="largest difference from Keras' outputs on the test split"
    )
    label_agreement: float | None = Field(
        None, description="share of test examples given Keras' label; null for regression"
    )
    examples: int | None = Field(None, description="test examples compared")


class Reproducibility(BaseModel):
    spec_sha256: str
    seed: int
    tensorflow: str | None = None
    keras: str | None = None
    dataset_sha256: str | None = Field(
        None,
        description="an upload's sha256 (as GET /v1/datasets/{name} shows), or a built-in's split digest",
    )
    dataset_version: int | None = Field(None, description="the uploaded version trained on")
    jit_compile: bool | None = Field(
        None, description="whether XLA compiled the training step (it changes the numerics)"
    )
    onednn: bool | None = Field(
        None, description="whether oneDNN ran TensorFlow's CPU ops (it changes the numerics)"
    )
    threads: int | None = Field(None, description="TensorFlow threads of the worker")
    notes: list[str] = Field(
        default_factory=list, description="e.g. why XLA was not used although the rule chose it"
    )


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
    evaluation: dict[str, Any] | None = Field(
        description="loss, accuracy and confusion matrix on the held-out test split"
    )
    failure_reason: str | None
    attempts: int
    queue: str = Field(description="the named worker queue the run waits in or ran from")
    artifact: Artifact | None
    exports: dict[str, Export] | None = Field(
        description="per format (onnx, tflite): the verified export, or why it is unavailable; "
        "null for runs trained before exports existed and for unfinished runs"
    )
    reproducibility: Reproducibility
    sweep_id: str | None = Field(None, description="the sweep this run is a trial of")
    early_stopping: dict[str, Any] | None = Field(
        None,
        description="when the spec asks for it: monitor, stopped_epoch (null if every epoch "
        "ran), best_epoch, best, restored_best_weights",
    )

    @classmethod
    def of(cls, run: Run) -> RunOut:
        return cls(**run_fields(run, spec=run.spec, seed=run.spec["training"]["seed"]))


def run_fields(run: Run | Any, *, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """RunOut's fields, unvalidated, from a run or from anything with the same attributes (the
    list validates a whole page of these at once, app/runs/listing.py)."""
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "spec": spec,
        "warnings": run.warnings,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": {"epoch": run.epoch, "epochs": run.epochs},
        "metrics": run.last_metrics,
        "evaluation": _public_evaluation(run.evaluation),
        "failure_reason": run.failure_reason,
        "attempts": run.attempts,
        "queue": run.queue,
        "artifact": {"sha256": run.artifact_sha256, "bytes": run.artifact_bytes}
        if run.artifact_sha256 and run.artifact_bytes is not None
        else None,
        "exports": run.exports,
        "reproducibility": {"spec_sha256": run.spec_sha256, "seed": seed, **run.reproducibility},
        "sweep_id": run.sweep_id,
        "early_stopping": run.early_stopping,
    }


def _public_evaluation(evaluation: dict[str, Any] | None) -> dict[str, Any] | None:
    # The misclassified list is served by GET /v1/runs/{id}/errors with its images; keeping it
    # out of the run object keeps run lists small.
    if not evaluation:
        return evaluation
    return {k: v for k, v in evaluation.items() if k != "misclassified"}


class RunList(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


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
        return cls(
            epoch=m.epoch,
            loss=m.loss,
            accuracy=m.accuracy,
            val_loss=m.val_loss,
            val_accuracy=m.val_accuracy,
            seconds=m.seconds,
            values=m.values,
        )


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
    test_accuracy: str | None = Field(
        description="run id with the highest test accuracy (null when the runs were tested "
        "on different data: see warnings)"
    )
    test_loss: str | None = Field(
        description="run id with the lowest test loss (null when the runs minimise different "
        "losses or were tested on different data)"
    )


class Misclassified(BaseModel):
    index: int = Field(description="position in the run's held-out test split")
    label: int = Field(description="the true label")
    predicted: int = Field(description="what the model answered")
    confidence: float = Field(description="the model's probability for its (wrong) answer")
    image: str = Field(description="the test image as the model saw it: a data:image/png URL")


class MisclassifiedList(BaseModel):
    run_id: str
    total: int = Field(description="how many test examples the model got wrong in all")
    items: list[Misclassified] = Field(description="the most confidently wrong first")


class Validated(BaseModel):
    spec: dict[str, Any] = Field(description="the normalised spec POST /v1/runs would queue")
    warnings: list[Problem]


class Comparison(BaseModel):
    runs: list[ComparedRun]
    spec_differences: list[SpecDifference]
    best: Best
    warnings: list[Problem] = Field(description="why some numbers are not comparable")
