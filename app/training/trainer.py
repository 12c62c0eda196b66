"""Train one claimed run with Keras: resume from its checkpoint, record every epoch, evaluate,
save the artifact. Runs inside a worker process only."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.enums import StopReason
from app.settings import Settings
from app.storage import StoreError
from app.storage.retry import with_retries
from app.storage.runs import drop_checkpoint, fetch_missing, publish, publish_artifact
from app.training import checkpoint, jobs
from app.training.artifacts import FORMAT_FILES, MODEL_FILE, save_model
from app.training.build import compile_model
from app.training.control import RunControl
from app.training.data import (
    TrainingData,
    epoch_batches,
    prepare,
    steps_per_epoch,
    validation_batches,
)
from app.training.evaluation import evaluate
from app.training.execution import ChunkSizer, Executor, onednn_enabled, xla_by_rule
from app.training.exports import export_all
from app.training.loop import run_epochs
from app.training.options import TrainingOptions

log = logging.getLogger("trainserve.trainer")


@dataclass(frozen=True)
class Snapshot:
    """What a checkpoint holds: model and optimizer variables, and the callbacks' state."""

    arrays: list[np.ndarray]
    state: dict[str, Any]
    extra: list[np.ndarray]


EpochSink = Callable[[int, dict[str, float], float, float, Snapshot], None]


@dataclass(frozen=True)
class Execution:
    jit_compile: bool
    on_fallback: Callable[[str], None]  # told why, if XLA cannot compile the model


@dataclass
class Outcome:
    stopped: StopReason | None  # None when training completed; else the RunControl reason
    fields: dict[str, Any] = field(default_factory=dict)


class ProgressCallback(keras.callbacks.Callback):
    """Stops within one execution when asked, and hands each complete epoch to ``sink``."""

    def __init__(
        self, control: RunControl, steps: int, sink: EpochSink, options: TrainingOptions
    ) -> None:
        super().__init__()
        self.control, self.steps, self.sink, self.options = control, steps, sink, options
        self._batches, self._started = 0, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches, self._started = 0, time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches = batch + 1  # one call per execution, of several steps
        if not self.control.stopped and self.control.over_deadline():
            self.control.stop(StopReason.DEADLINE)
        if self.control.stopped:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batches < self.steps:
            return  # stopped mid-epoch: the checkpoint before it stays the resume point
        seconds = time.perf_counter() - self._started
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(metrics.get("loss", 0.0)):
            self.control.stop(
                StopReason.NAN,
                f"the loss became {metrics['loss']} in epoch {epoch + 1}; "
                "lower the learning rate or scale the inputs",
            )
            self.model.stop_training = True
            return
        state, extra = self.options.state()
        snap = Snapshot(checkpoint.snapshot(self.model), state, extra)
        self.sink(epoch + 1, metrics, seconds, time.time(), snap)


class EpochRecorder:
    """Writes checkpoints and epoch rows on a background thread, in order, so the training
    loop never waits for fsync; a lost lease found there stops the training."""

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        worker_id: str,
        control: RunControl,
        sweep_id: str | None = None,
        resumed_from: int = 0,
    ) -> None:
        self.settings, self.run_id, self.worker_id, self.control = (
            settings,
            run_id,
            worker_id,
            control,
        )
        self.sweep_id = sweep_id
        self.run_dir = settings.runs_dir / run_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"epochs-{run_id}")
        self._last: Future[None] | None = None
        self._committed = resumed_from  # the stored checkpoint the run's row names
        if sweep_id:
            # Optuna's import (~1 s) off the training thread, before the first decision.
            self._pool.submit(_import_pruner)

    def __call__(
        self,
        epoch: int,
        metrics: dict[str, float],
        seconds: float,
        ended_at: float,
        snap: Snapshot,
    ) -> None:
        if self.sweep_id and self._last is not None:
            # A sweep trial hands over an epoch only once the previous one's prune decision is
            # in: with epochs shorter than a decision, a hopeless trial would otherwise train to
            # its end before being pruned. The decision overlaps the epoch that just ran.
            self._last.result()
        self._last = self._pool.submit(self._persist, epoch, metrics, seconds, ended_at, snap)

    def _persist(
        self,
        epoch: int,
        metrics: dict[str, float],
        seconds: float,
        ended_at: float,
        snap: Snapshot,
    ) -> None:
        if self.control.reason == StopReason.STORE:
            return  # the store is down: later checkpoints cannot be kept either
        try:
            path = checkpoint.write(self.run_dir, epoch, snap.arrays, snap.state, snap.extra)
            _retrying(self.settings, path, lambda: publish(self.settings, self.run_id, path))
            jobs.record_epoch(
                self.settings.resolved_database_url,
                self.run_id,
                self.worker_id,
                epoch,
                metrics,
                seconds,
                ended_at,
                checkpoint_epoch=epoch,
            )
        except jobs.LeaseLost:
            self.control.stop(StopReason.LOST)
            return
        except StoreError as exc:
            self.control.stop(StopReason.STORE, str(exc))
            return
        # The row names the new checkpoint now: the previous one is garbage.
        checkpoint.remove_others(self.run_dir, epoch)
        if self._committed:
            drop_checkpoint(self.settings, self.run_id, self._committed)
        self._committed = epoch
        if self.sweep_id:
            self._maybe_prune(epoch)

    def _maybe_prune(self, epoch: int) -> None:
        """A hopeless sweep trial stops here, after the epoch that showed it is hopeless."""
        from app.sweeps.pruning import prune_reason

        url = self.settings.resolved_database_url
        reason = prune_reason(url, self.run_id, self.sweep_id or "", epoch)
        if reason is not None:
            self.control.stop(StopReason.PRUNED, reason)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._last is not None:
            self._last.result()


def _import_pruner() -> None:
    import optuna  # noqa: F401  (app.sweeps.sampler imports it lazily, at the first decision)


def train(claim: jobs.Claim, settings: Settings, worker_id: str, control: RunControl) -> Outcome:
    spec, url = claim.spec, settings.resolved_database_url
    data = prepare(spec, settings)
    jit = xla_by_rule(spec, settings.xla)
    record: dict[str, Any] = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "dataset_sha256": data.dataset_sha256,
        "dataset_version": data.dataset_version,
        "jit_compile": jit,
        "onednn": onednn_enabled(),
        "threads": settings.threads_per_worker,
    }
    jobs.set_reproducibility(url, claim.run_id, worker_id, record)

    def without_xla(note: str) -> None:
        jobs.set_reproducibility(
            url, claim.run_id, worker_id, {**record, "jit_compile": False, "notes": [note]}
        )

    options = TrainingOptions(spec)
    model = _train(claim, settings, worker_id, control, data, Execution(jit, without_xla), options)
    if control.stopped:
        return Outcome(control.reason)
    evaluation = evaluate(model, spec, data)
    run_dir = settings.runs_dir / claim.run_id
    sha256, size = save_model(model, run_dir)
    exports = export_all(model, spec, data.x_test, run_dir, settings.export_formats)
    try:  # before the row names them: never a succeeded run whose files are not stored
        for name, digest in [(MODEL_FILE, sha256), *_available_exports(exports)]:
            _retrying(
                settings,
                run_dir / name,
                partial(publish_artifact, settings, claim.run_id, run_dir / name, digest),
            )
    except StoreError as exc:
        control.stop(StopReason.STORE, str(exc))
        return Outcome(StopReason.STORE)
    return Outcome(
        None,
        {
            "evaluation": evaluation,
            "artifact_sha256": sha256,
            "artifact_bytes": size,
            "early_stopping": options.record(),
            "exports": exports,
        },
    )


def _train(
    claim: jobs.Claim,
    settings: Settings,
    worker_id: str,
    control: RunControl,
    data: TrainingData,
    execution: Execution,
    options: TrainingOptions,
) -> keras.Model:
    training = claim.spec["training"]
    keras.utils.set_random_seed(training["seed"])
    # Schedules count optimizer steps, so they need the steps of an epoch.
    model = compile_model(claim.spec, steps_per_epoch(len(data.x_train), training["batch_size"]))
    first = _resume(
        model, settings.runs_dir / claim.run_id, claim.checkpoint_epoch, options, settings
    )
    jobs.forget_epochs_after(settings.resolved_database_url, claim.run_id, worker_id, first)
    recorder = EpochRecorder(settings, claim.run_id, worker_id, control, claim.sweep_id, first)
    try:
        if options.stopped_before():
            options.conclude_without_training(model)
        else:
            _fit(model, data, training, first, control, recorder, execution, settings, options)
    finally:
        recorder.close()
    return model


def _resume(
    model: keras.Model,
    run_dir: Path,
    checkpoint_epoch: int,
    options: TrainingOptions,
    settings: Settings,
) -> int:
    if checkpoint_epoch <= 0:
        return 0
    path = checkpoint.path_for(run_dir, checkpoint_epoch)
    # Resuming on another machine: its checkpoint is in the store, not in our data dir.
    fetch_missing(settings, run_dir.name, path)
    if not path.exists():
        return 0  # the data dir lost it: start over rather than fail the run
    options.load(*checkpoint.restore(model, path))
    return checkpoint_epoch


def _fit(
    model: keras.Model,
    data: TrainingData,
    training: dict[str, Any],
    first: int,
    control: RunControl,
    recorder: EpochRecorder,
    execution: Execution,
    settings: Settings,
    options: TrainingOptions,
) -> None:
    epochs, batch = training["epochs"], training["batch_size"]
    if first >= epochs:
        return
    if first:
        # Dropout draws from a fresh, still reproducible stream after a resume.
        keras.utils.set_random_seed(training["seed"] + first)
    steps = steps_per_epoch(len(data.x_train), batch)
    batches = epoch_batches(
        data.x_train,
        data.y_train,
        batch,
        training["seed"],
        first,
        epochs,
        training.get("augmentation"),
    )
    executor = Executor(model, execution.jit_compile, batches, execution.on_fallback)
    control.on_stop(executor.interrupt)
    sizer = ChunkSizer(settings.execution_seconds)
    run_epochs(
        model,
        steps,
        len(data.x_train) % batch != 0,
        range(first, epochs),
        validation_batches(data, max(batch, 256)),
        executor,
        sizer,
        [*options.callbacks(), ProgressCallback(control, steps, recorder, options)],
    )
    log.info(
        "run %s: %d calls of up to %d steps (%.2f ms a step), XLA %s",
        recorder.run_id,
        sizer.calls,
        sizer.largest,
        (sizer.per_step_s or 0) * 1000,
        "on" if executor.jit_compile else "off",
        extra={"run_id": recorder.run_id},
    )


def _retrying(settings: Settings, path: Path, put: Callable[[], None]) -> None:
    """Copy a file of the run's directory to the artifact store, retrying with backoff: a
    store that is briefly unreachable must not fail an hour of training."""
    with_retries(
        put,
        settings.store_retries,
        settings.store_retry_seconds,
        what=f"{path.name} of run {path.parent.name}",
    )


def _available_exports(exports: dict[str, Any]) -> list[tuple[str, str]]:
    """(file name, sha256) of each verified export."""
    return [
        (FORMAT_FILES[fmt], str(export["sha256"]))
        for fmt, export in exports.items()
        if isinstance(export, dict) and export.get("status") == "available" and fmt in FORMAT_FILES
    ]
