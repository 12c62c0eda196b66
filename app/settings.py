"""Service settings, read from ``TRAINSERVE_*`` environment variables and ``.env``."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ExportFormat = Literal["onnx", "tflite"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("onnx", "tflite")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINSERVE_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    database_url: str = ""
    api_key: Annotated[list[str], NoDecode] = Field(default_factory=list)

    workers: int = Field(1, ge=0, description="worker processes started by `trainserve serve`")
    tf_threads: int = Field(
        0, ge=0, description="TensorFlow threads per worker; 0 = cores / workers"
    )
    xla: Literal["auto", "on", "off"] = Field(
        "auto",
        description="XLA for the training step: auto = by the model's layers (bench/README.md)",
    )
    onednn: bool = Field(
        True,
        description="oneDNN kernels for TensorFlow's CPU ops in workers (TF_ENABLE_ONEDNN_OPTS); "
        "TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI, BF16 or AMX, yet "
        "on an AVX2 CPU they trained the example CNN ~2x faster (bench/README.md)",
    )
    execution_seconds: float = Field(
        0.1,
        gt=0,
        le=0.5,
        description="target wall time of one training execution (several steps in one "
        "TensorFlow call); a cancel waits for at most one",
    )
    poll_interval: float = Field(
        0.2, gt=0, description="seconds between queue polls of an idle worker"
    )
    lease_seconds: float = Field(
        15.0, gt=0, description="a run whose worker is silent this long is reclaimed"
    )
    heartbeat_seconds: float = Field(
        0.25, gt=0, description="lease renewal and cancel check period"
    )
    worker_stale_seconds: float = Field(
        30.0, gt=0, description="/readyz needs a worker heartbeat this recent"
    )
    max_attempts: int = Field(3, ge=1)
    max_run_seconds: float = Field(6 * 3600, gt=0, description="wall-clock cap for one run")
    shutdown_grace_seconds: float = Field(20.0, gt=0)

    queue: Literal["local", "celery"] = Field(
        "local", description="local: worker processes poll the database; celery: a broker"
    )
    broker_url: str = Field("", description="redis://… or amqp://… when queue=celery")
    queues: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["default"],
        description="named queues runs may ask for (training.queue); the first is the default",
    )
    worker_queues: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="queues this worker takes runs from; empty = all"
    )
    redispatch_seconds: float = Field(
        30.0,
        gt=0,
        description="a queued run whose message the broker no longer holds is sent again "
        "after this long",
    )

    max_epochs: int = Field(500, ge=1)
    max_batch_size: int = Field(4096, ge=1)
    max_layers: int = Field(32, ge=1)
    max_parameters: int = Field(5_000_000, ge=1)

    max_sweep_runs: int = Field(100, ge=1, description="trials one sweep may run in all")
    max_sweep_parallel: int = Field(4, ge=1, description="trials of one sweep queued at once")

    max_predict_instances: int = Field(256, ge=1, description="images or instances per request")
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    max_dataset_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="dataset uploads over this many bytes get 413"
    )
    max_dataset_uncompressed_bytes: int = Field(
        1024 * 1024 * 1024, ge=1024, description="cap on what an uploaded archive unpacks to"
    )
    max_dataset_files: int = Field(100_000, ge=1, description="cap on files in an uploaded zip")
    model_cache_size: int = Field(8, ge=1, description="trained models kept loaded for prediction")
    artifacts_url: str = Field(
        "",
        description="where checkpoints, models and exports live: file:///path or "
        "s3://bucket/prefix; empty = files under the data dir",
    )
    s3_endpoint_url: str = Field("", description="S3-compatible server (MinIO, Ceph); empty = AWS")
    store_retries: int = Field(
        4, ge=0, description="retries of a failed store write in a worker before giving up"
    )
    store_retry_seconds: float = Field(
        1.0, gt=0, description="first backoff between store retries (doubles each time)"
    )
    gc_interval_seconds: float = Field(
        900.0,
        ge=0,
        description="how often one worker (the longest-registered live one) sweeps stored "
        "objects no row names; 0 = never (run `trainserve gc` instead)",
    )
    gc_grace_seconds: float = Field(
        3600.0,
        ge=0,
        description="the sweep keeps unnamed objects younger than this: an upload whose "
        "row is not committed yet",
    )

    export_formats: Annotated[list[ExportFormat], NoDecode] = Field(
        default_factory=lambda: list(EXPORT_FORMATS),
        description="portable copies a worker makes of each trained model and verifies "
        "(comma-separated; empty = none); a format left out is recorded as unavailable, "
        "not requested",
    )
    serving_runtime: Literal["onnxruntime", "litert", "keras"] = Field(
        "onnxruntime",
        description="runtime that answers predictions: onnxruntime (.onnx export), litert "
        "(.tflite export) or keras; a run without that export is served from another of its "
        "exports, else with Keras (which needs TensorFlow, the [train] extra)",
    )

    mnist_url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    download_timeout: float = 10.0

    @field_validator("queues", "worker_queues", "export_formats", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

    @model_validator(mode="after")
    def _check_dispatch(self) -> Settings:
        if not self.queues:
            raise ValueError("TRAINSERVE_QUEUES must name at least one queue")
        if self.queue == "celery" and not self.broker_url.startswith(("redis", "amqp", "pyamqp")):
            raise ValueError(
                "TRAINSERVE_QUEUE=celery needs TRAINSERVE_BROKER_URL=redis://… or amqp://…"
            )
        return self

    @property
    def default_queue(self) -> str:
        return self.queues[0]

    @property
    def served_queues(self) -> list[str]:
        """The queues a worker of this process takes runs from."""
        return self.worker_queues or self.queues

    @field_validator("api_key", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # One key or several, comma-separated: rotating a key needs both valid for a while.
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("artifacts_url")
    @classmethod
    def _check_artifacts_url(cls, value: str) -> str:
        if value:
            from app.storage import parse_artifacts_url

            parse_artifacts_url(value)
        return value

    @property
    def cache_dir(self) -> Path:
        """Local copies of stored objects; may be wiped at any time."""
        return self.data_dir / "cache"

    @field_validator("serving_runtime")
    @classmethod
    def _runtime_installed(cls, value: str) -> str:
        # Checked at start-up rather than failing every prediction with the same message.
        module, extra = {
            "onnxruntime": ("onnxruntime", ""),
            "litert": ("ai_edge_litert", "litert"),
            "keras": ("keras", "train"),
        }[value]
        if importlib.util.find_spec(module) is None:
            raise ValueError(
                f"serving runtime {value!r} needs {module}, which is not installed"
                + (f": pip install 'trainserve[{extra}]'" if extra else "")
            )
        return value

    @property
    def resolved_database_url(self) -> str:
        return _database_url(self.database_url, self.data_dir)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def threads_per_worker(self) -> int:
        if self.tf_threads:
            return self.tf_threads
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (cached: read once from the environment)."""
    return Settings()


@lru_cache(maxsize=64)
def _database_url(database_url: str, data_dir: Path) -> str:
    # Cached: read on every request, and Path.resolve() costs file-system calls.
    return database_url or f"sqlite:///{(data_dir / 'trainserve.db').resolve()}"
