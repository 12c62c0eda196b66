"""Service settings, read from ``TRAINSERVE_*`` environment variables and ``.env``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINSERVE_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    database_url: str = ""
    api_key: Annotated[list[str], NoDecode] = Field(default_factory=list)

    workers: int = Field(1, ge=0, description="worker processes started by `trainserve serve`")
    tf_threads: int = Field(0, ge=0, description="TensorFlow threads per worker; 0 = cores / workers")
    poll_interval: float = Field(0.2, gt=0, description="seconds between queue polls of an idle worker")
    lease_seconds: float = Field(15.0, gt=0, description="a run whose worker is silent this long is reclaimed")
    heartbeat_seconds: float = Field(0.25, gt=0, description="lease renewal and cancel check period")
    worker_stale_seconds: float = Field(30.0, gt=0, description="/readyz needs a worker heartbeat this recent")
    max_attempts: int = Field(3, ge=1)
    max_run_seconds: float = Field(6 * 3600, gt=0, description="wall-clock cap for one run")
    shutdown_grace_seconds: float = Field(20.0, gt=0)

    max_epochs: int = Field(500, ge=1)
    max_batch_size: int = Field(4096, ge=1)
    max_layers: int = Field(32, ge=1)
    max_parameters: int = Field(5_000_000, ge=1)

    max_predict_instances: int = Field(256, ge=1, description="images or instances per request")
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    model_cache_size: int = Field(8, ge=1, description="trained models kept loaded for prediction")

    mnist_url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    download_timeout: float = 10.0

    @field_validator("api_key", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # One key or several, comma-separated: rotating a key needs both valid for a while.
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
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
