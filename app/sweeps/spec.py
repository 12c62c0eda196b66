"""What a user POSTs to start a sweep. Types only: every semantic check is in validation.py,
so one answer lists all the mistakes instead of the first layer of them.

Strict, as run specs are: JSON `false` is not a seed of 0, nor `1` a `pruning` of true; the
OpenAPI schema says integer and boolean, and generated clients rely on that."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.runs.ids import MODEL_NAME_SCHEMA

METHODS = ("grid", "random", "tpe")
OBJECTIVE_METRICS = (
    "val_accuracy",
    "val_loss",
    "accuracy",
    "loss",
    "test_accuracy",
    "test_loss",
)


class Dimension(BaseModel):
    """One axis of the search: a list of values, a numeric range, or categorical choices."""

    model_config = ConfigDict(extra="forbid", strict=True)

    values: list[Any] | None = Field(None, description="try each of these (grid or sampled)")
    low: float | None = Field(None, description="range start (ints when the field is an int)")
    high: float | None = Field(None, description="range end, inclusive")
    log: bool = Field(False, description="sample the range log-uniformly (learning rates)")
    choices: list[Any] | None = Field(None, description="categorical choices, e.g. activations")


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    metric: str = Field("val_accuracy", description=f"one of {', '.join(OBJECTIVE_METRICS)}")
    direction: str | None = Field(
        None, description="max or min; by default max for accuracy, min for loss"
    )


class SweepSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "digits-lr",
                    "base": {
                        "dataset": {"name": "digits"},
                        "model": {
                            "layers": [
                                {"type": "dense", "units": 32, "activation": "relu"},
                                {"type": "dense", "units": 10, "activation": "softmax"},
                            ]
                        },
                        "training": {"loss": "sparse_categorical_crossentropy", "epochs": 5},
                    },
                    "space": {
                        "/training/optimizer/learning_rate": {
                            "low": 0.0001,
                            "high": 0.1,
                            "log": True,
                        },
                        "/model/layers/0/units": {"values": [16, 32, 64]},
                    },
                    "method": "tpe",
                    "max_runs": 8,
                    "parallel": 2,
                    "objective": {"metric": "val_accuracy", "direction": "max"},
                    "pruning": True,
                }
            ]
        },
    )

    name: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    base: dict[str, Any] = Field(description="a run spec, as POST /v1/runs takes it")
    space: dict[str, Dimension] = Field(
        description="JSON pointers into base (e.g. /model/layers/0/units) and what to try there"
    )
    method: str = Field("random", description=f"one of {', '.join(METHODS)}")
    max_runs: int | None = Field(None, description="trials in all; default: the grid's size, or 10")
    parallel: int = Field(1, description="trials queued at once")
    objective: Objective = Field(default_factory=lambda: Objective.model_validate({}))
    pruning: bool = Field(
        False, description="stop hopeless trials early (median of earlier trials per epoch)"
    )
    # The name's rule declared for clients on the string (null stays allowed); checked, with a
    # hint, in validation.py by the same rule.
    model_name: Annotated[str, Field(json_schema_extra=MODEL_NAME_SCHEMA)] | None = Field(
        None, description="a model name pointed at the best trial when the sweep finishes"
    )
    seed: int | None = Field(None, description="sampler seed; default: the base spec's seed")
