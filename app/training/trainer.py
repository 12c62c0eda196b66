"""Train one claimed run with Keras: resume from its checkpoint, record every epoch, evaluate,
save the artifact. Runs inside a worker process only."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.settings import Settings
from app.training import checkpoint, jobs
from app.training.artifacts import save_model
from app.training.build import compile_model
from app.training.control import RunControl
from app.training.data import TrainingData, epoch_batches, prepare, steps_per_epoch
from app.training.evaluation import evaluate

EpochSink = Callable[[int, dict[str, float], float, float, list[np.ndarray]], None]


@dataclass
class Outcome:
    stopped: str | None  # None when training completed; else the RunControl reason
    fields: dict[str, Any] = field(default_factory=dict)


class ProgressCallback(keras.callbacks.Callback):
    """Stops within one batch when asked, and hands each complete epoch to ``sink``."""

    def __init__(self, control: RunControl, steps: int, sink: EpochSink) -> None:
        super().__init__()
        self.control, self.steps, self.sink = control, steps, sink
        self._batches, self._started = 0, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches, self._started = 0, time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if not self.control.stopped and self.control.over_deadline():
            self.control.stop("deadline")
        if self.control.stopped:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batches < self.steps:
            return  # stopped mid-epoch: the checkpoint before it stays the resume point
        seconds = time.perf_counter() - self._started
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(metrics.get("loss", 0.0)):
            self.control.stop("nan", f"the loss became {metrics['loss']} in epoch {epoch + 1}; "
                              "lower the learning rate or scale the inputs")
            self.model.stop_training = True
            return
        self.sink(epoch + 1, metrics, seconds, time.time(), checkpoint.snapshot(self.model))


class EpochRecorder:
    """Writes checkpoints and epoch rows on a background thread, in order, so the training
    loop never waits for fsync; a lost lease found there stops the training."""

    def __init__(self, settings: Settings, run_id: str, worker_id: str, control: RunControl) -> None:
        self.settings, self.run_id, self.worker_id, self.control = settings, run_id, worker_id, control
        self.run_dir = settings.runs_dir / run_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"epochs-{run_id}")
        self._last: Future[None] | None = None

    def __call__(self, epoch: int, metrics: dict[str, float], seconds: float, ended_at: float,
                 arrays: list[np.ndarray]) -> None:
        self._last = self._pool.submit(self._persist, epoch, metrics, seconds, ended_at, arrays)

    def _persist(self, epoch: int, metrics: dict[str, float], seconds: float, ended_at: float,
                 arrays: list[np.ndarray]) -> None:
        try:
            checkpoint.write(self.run_dir, epoch, arrays)
            jobs.record_epoch(self.settings.resolved_database_url, self.run_id, self.worker_id,
                              epoch, metrics, seconds, ended_at, checkpoint_epoch=epoch)
        except jobs.LeaseLost:
            self.control.stop("lost")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._last is not None:
            self._last.result()


def train(claim: jobs.Claim, settings: Settings, worker_id: str, control: RunControl) -> Outcome:
    spec, url = claim.spec, settings.resolved_database_url
    training = spec["training"]
    data = prepare(spec, settings.data_dir)
    jobs.set_reproducibility(url, claim.run_id, worker_id, {
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "dataset_sha256": data.dataset_sha256})
    keras.utils.set_random_seed(training["seed"])
    model = compile_model(spec)
    first = _resume(model, settings.runs_dir / claim.run_id, claim.checkpoint_epoch)
    jobs.forget_epochs_after(url, claim.run_id, worker_id, first)
    recorder = EpochRecorder(settings, claim.run_id, worker_id, control)
    try:
        _fit(model, data, training, first, control, recorder)
    finally:
        recorder.close()
    if control.stopped:
        return Outcome(control.reason)
    evaluation = evaluate(model, spec, data)
    sha256, size = save_model(model, settings.runs_dir / claim.run_id)
    return Outcome(None, {"evaluation": evaluation, "artifact_sha256": sha256, "artifact_bytes": size})


def _resume(model: keras.Model, run_dir: Path, checkpoint_epoch: int) -> int:
    if checkpoint_epoch <= 0:
        return 0
    path = checkpoint.path_for(run_dir, checkpoint_epoch)
    if not path.exists():
        return 0  # the data dir lost it: start over rather than fail the run
    checkpoint.restore(model, path)
    return checkpoint_epoch


def _fit(model: keras.Model, data: TrainingData, training: dict[str, Any], first: int,
         control: RunControl, recorder: EpochRecorder) -> None:
    epochs, batch = training["epochs"], training["batch_size"]
    if first >= epochs:
        return
    if first:
        # Dropout draws from a fresh, still reproducible stream after a resume.
        keras.utils.set_random_seed(training["seed"] + first)
    steps = steps_per_epoch(len(data.x_train), batch)
    batches = epoch_batches(data.x_train, data.y_train, batch, training["seed"], first, epochs)
    validation = (data.x_val, data.y_val) if data.x_val is not None else None
    model.fit(batches, epochs=epochs, initial_epoch=first, steps_per_epoch=steps,
              validation_data=validation, validation_batch_size=max(batch, 256), shuffle=False,
              verbose=0, callbacks=[ProgressCallback(control, steps, recorder)])
