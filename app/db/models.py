"""Tables. The ``runs`` row is also the job: the queue is a query over it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, utcnow


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
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

    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_bytes: Mapped[int | None]
    reproducibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    epoch_metrics: Mapped[list[EpochMetric]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="EpochMetric.epoch",
    )

    __table_args__ = (Index("ix_runs_status_created", "status", "created_at"),)


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
    type: Mapped[str] = mapped_column(String(16))
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
