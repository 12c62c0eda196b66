"""Early stopping, reduce-on-plateau and the per-epoch learning rate, as Keras callbacks whose
state goes into every checkpoint, so a resumed run continues as if it had never stopped.

Keras' own callbacks reset their counters in ``on_train_begin``; these subclasses put the
saved counters (and the best weights kept for restoring) back right after. Worker-only.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class LearningRateLog(keras.callbacks.Callback):
    """Adds the rate each epoch started with to its metrics (``learning_rate``)."""

    def __init__(self) -> None:
        super().__init__()
        self._rate = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._rate = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self._rate


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(
            monitor=spec["monitor"],
            patience=spec["patience"],
            min_delta=spec["min_delta"],
            restore_best_weights=spec["restore_best_weights"],
            mode="max" if spec["monitor"].endswith("accuracy") else "min",
        )
        self._saved: dict[str, Any] | None = None
        self._saved_weights: list[np.ndarray] | None = None

    def load(self, state: dict[str, Any], best_weights: list[np.ndarray] | None) -> None:
        self._saved, self._saved_weights = state, best_weights

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self._saved is not None:
            self.wait = self._saved["wait"]
            self.best = self._saved["best"]
            self.best_epoch = self._saved["best_epoch"]
            self.stopped_epoch = self._saved["stopped_epoch"]
            self.best_weights = self._saved_weights

    def state(self) -> dict[str, Any]:
        best = None if self.best is None else float(self.best)
        return {
            "wait": self.wait,
            "best": best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """The reduced rate itself is an optimizer variable, so the checkpoint already has it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(
            monitor=spec["monitor"],
            factor=spec["factor"],
            patience=spec["patience"],
            min_delta=spec["min_delta"],
            min_lr=spec["min_learning_rate"],
            mode="max" if spec["monitor"].endswith("accuracy") else "min",
        )
        self._saved: dict[str, Any] | None = None

    def load(self, state: dict[str, Any]) -> None:
        self._saved = state

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self._saved is not None:
            self.wait = self._saved["wait"]
            self.best = self._saved["best"]
            self.cooldown_counter = self._saved["cooldown_counter"]

    def state(self) -> dict[str, Any]:
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "cooldown_counter": self.cooldown_counter}


class TrainingOptions:
    """The callbacks a spec asks for, and their state for checkpoints."""

    def __init__(self, spec: dict[str, Any]) -> None:
        training = spec["training"]
        es, schedule = training.get("early_stopping"), training.get("lr_schedule")
        self.early = ResumableEarlyStopping(es) if es else None
        self.plateau = (
            ResumableReduceLROnPlateau(schedule)
            if schedule and schedule["type"] == "reduce_on_plateau"
            else None
        )

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """In order: they change the logs and the stop flag the progress callback then reads."""
        out: list[keras.callbacks.Callback] = []
        if self.plateau is not None:
            out.append(self.plateau)
        if self.early is not None:
            out.append(self.early)
        out.append(LearningRateLog())
        return out

    def state(self) -> tuple[dict[str, Any], list[np.ndarray]]:
        """JSON state, plus the best weights early stopping keeps (arrays)."""
        state: dict[str, Any] = {}
        weights: list[np.ndarray] = []
        if self.plateau is not None:
            state["plateau"] = self.plateau.state()
        if self.early is not None:
            state["early_stopping"] = self.early.state()
            weights = [np.array(w) for w in self.early.best_weights or []]
        return state, weights

    def load(self, state: dict[str, Any], weights: list[np.ndarray]) -> None:
        if self.plateau is not None and "plateau" in state:
            self.plateau.load(state["plateau"])
        if self.early is not None and "early_stopping" in state:
            self.early.load(state["early_stopping"], weights or None)

    def stopped_before(self) -> bool:
        """Early stopping had fired when the checkpoint was written (the run was stopped
        before it could be concluded): there is nothing left to train."""
        saved = self.early._saved if self.early is not None else None
        return bool(saved and saved["stopped_epoch"] > 0)

    def conclude_without_training(self, model: keras.Model) -> None:
        assert self.early is not None
        self.early.on_train_begin()  # puts the saved counters and best weights back
        if self.early.restore_best_weights and self.early.best_weights:
            model.set_weights(self.early.best_weights)

    def record(self) -> dict[str, Any] | None:
        """What the run shows: stopped at epoch N (None: ran every epoch), best epoch M;
        Keras counts epochs from 0, the service from 1."""
        if self.early is None:
            return None
        early = self.early
        best = None if early.best is None else float(early.best)
        return {
            "monitor": early.monitor,
            "stopped_epoch": early.stopped_epoch + 1 if early.stopped_epoch else None,
            "best_epoch": early.best_epoch + 1 if best is not None else None,
            "best": best,
            "restored_best_weights": bool(early.restore_best_weights and best is not None),
        }
