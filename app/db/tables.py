"""Tables. The ``runs`` row is also the job: the queue is a query over it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, utcnow
from app.enums import EventType, RunStatus, SweepStatus


def _text_enum(enum: type[RunStatus | EventType | SweepStatus]) -> Enum:
    """A VARCHAR(16) holding the member's value (not its name): the same column type the
    migrations created, read back as the enum member."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[RunStatus] = mapped_column(_text_enum(RunStatus), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    epoch: Mapped[int] = mapped_column(default=0)
    epochs: Mapped[int]
    last_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failure_reason: Mapped[str | None] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(default=0)

    worker_id: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    checkpoint_epoch: Mapped[int] = mapped_column(default=0)
    # Dispatch: the named queue the run waits in, and when a broker last accepted a message
    # for it (None: never, or it must be sent again; see app.dispatch.outbox).
    queue: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    dispatched_at: Mapped[datetime | None]

    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_bytes: Mapped[int | None]
    # Per format ("onnx", "tflite"): the verified export file, or why there is none.
    exports: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reproducibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when early stopping ended the run: stopped_epoch, best_epoch, monitor, best.
    early_stopping: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # Trials of a sweep are ordinary runs; these say which sweep and which point of its space.
    sweep_id: Mapped[str | None] = mapped_column(ForeignKey("sweeps.id"), index=True)
    sweep_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    epoch_metrics: Mapped[list[EpochMetric]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EpochMetric.epoch",
    )

    # The filtered list reads (status = ?) ORDER BY id: see migration 0003.
    __table_args__ = (
        Index("ix_runs_status_id", "status", "id"),
        Index("ix_runs_status_queue", "status", "queue"),
    )


class EpochMetric(Base):
    __tablename__ = "epoch_metrics"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    loss: Mapped[float | None]
    accuracy: Mapped[float | None]
    val_loss: Mapped[float | None]
    val_accuracy: Mapped[float | None]
    seconds: Mapped[float]
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    run: Mapped[Run] = relationship(back_populates="epoch_metrics")

    __table_args__ = (UniqueConstraint("run_id", "epoch", name="uq_epoch_metrics_run_epoch"),)


class RunEvent(Base):
    """Durable progress feed: the SSE stream is a read of this table, so any process can serve it."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    type: Mapped[EventType] = mapped_column(_text_enum(EventType))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    run_id: Mapped[str | None] = mapped_column(String(32))


class ModelName(Base):
    """A stable name (``prod``, ``latest``) pointing at a succeeded run, for clients to predict with."""

    __tablename__ = "model_names"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """One immutable version of an uploaded dataset; its arrays live in the artifact store."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shape: Mapped[list[Any]] = mapped_column(JSON)
    dtype: Mapped[str] = mapped_column(String(16))
    classes: Mapped[list[Any]] = mapped_column(JSON)
    # {label: count} with string keys (JSON objects have no integer keys).
    class_counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    num_examples: Mapped[int]
    # label: class labels; multilabel: several 0/1 columns (named by label_names, counted by
    # class_counts under those names); value: float targets (no classes).
    target: Mapped[str] = mapped_column(String(16), default="label", server_default="label")
    label_names: Mapped[list[Any] | None] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)


class Sweep(Base):
    """A search over a base run spec; its trials are runs carrying ``sweep_id``."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[SweepStatus] = mapped_column(_text_enum(SweepStatus), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    best_run_id: Mapped[str | None] = mapped_column(String(32))
    model_name: Mapped[str | None] = mapped_column(String(100))
    failure_reason: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
