"""The epoch loop: Keras callbacks around time-sized executions of the training step.

``model.fit`` fixes its steps per execution when it starts and reads one Python int in its
graph, so a chunk sized by measured time would need a retrace (and an XLA compile) each time
it changed; this loop calls an :class:`~app.training.execution.Executor` whose step count is
a tensor instead. It keeps fit's contract for callbacks: ``on_train_begin``, per epoch
``on_epoch_begin``/``on_epoch_end`` with training and ``val_`` metrics, batch hooks after each
execution (``batch`` is the index of its last step), and ``model.stop_training``.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import keras

from app.training.data import ValidationBatches
from app.training.execution import ChunkSizer, Executor


def run_epochs(
    model: keras.Model,
    steps: int,
    short_last: bool,
    epochs: range,
    validation: ValidationBatches | None,
    executor: Executor,
    sizer: ChunkSizer,
    callbacks: Sequence[keras.callbacks.Callback],
) -> None:
    """Trains ``epochs`` of ``steps`` batches each from the executor's batches (the last one
    short when ``short_last``)."""
    hooks = keras.callbacks.CallbackList(
        list(callbacks), model=model, epochs=epochs.stop, steps=steps, verbose=0
    )
    full = steps - 1 if short_last else steps
    model.stop_training = False
    hooks.on_train_begin()
    logs: dict[str, Any] = {}
    for epoch in epochs:
        if epoch in (epochs.start, epochs.start + 1):
            # Tracing left ~10^5 long-lived TensorFlow objects; a full collection walking them
            # stalls training and the cancel check (which needs the GIL) for up to seconds on
            # a busy machine. Park them where the collector does not look; the worker undoes
            # it when the run ends.
            gc.freeze()
        model.reset_metrics()
        hooks.on_epoch_begin(epoch)
        done = 0
        while done < full and not model.stop_training:
            n = sizer.next(full - done)
            hooks.on_train_batch_begin(done)
            step_logs, ran, seconds = executor.run(n)
            sizer.observe(ran, seconds)
            done += ran
            hooks.on_train_batch_end(done - 1, step_logs)
        if done == full < steps and not model.stop_training:
            hooks.on_train_batch_begin(done)
            step_logs = executor.run_short()
            done += 1
            hooks.on_train_batch_end(done - 1, step_logs)
        if done < steps:
            break  # stopped mid-epoch: the last complete epoch stays the resume point
        logs = {k: float(v) for k, v in model.get_metrics_result().items()}
        if validation is not None:
            logs.update({f"val_{k}": v for k, v in executor.validate(validation).items()})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end(logs)
