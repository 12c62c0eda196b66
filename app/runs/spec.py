"""The run spec: what a user POSTs to describe a network, its data and its training."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.enums import Task

Activation = Literal["linear", "sigmoid", "relu", "softmax", "tanh"]
Padding = Literal["valid", "same"]
Metric = Literal["accuracy", "mae", "mse"]


class _Strict(BaseModel):
    # strict: JSON `false` is not a seed of 0, nor "3" three epochs; the OpenAPI schema says
    # integer, and clients generated from it must be able to rely on that.
    model_config = ConfigDict(extra="forbid", strict=True)


class DatasetSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2}]
        },
    )

    name: str = Field(
        max_length=120,
        description="a built-in (digits, mnist-5k, mnist) or an uploaded dataset: name for its "
        "latest version, name@version for an exact one",
    )
    version: int | None = Field(
        None,
        ge=1,
        description="the uploaded version; set by the service (the normalised spec names the "
        "exact version trained on), null for built-ins",
    )
    classes: list[int] | None = Field(
        None,
        description="labels to keep (all when absent); with two classes the first is 0, the second 1",
    )
    test_fraction: float = Field(0.2, gt=0, le=0.5, description="held out for the final evaluation")
    target: Literal["label", "multilabel", "value"] = Field(
        "label",
        description="label: the class; multilabel: yes/no answers (even, >= 5, closed loop); "
        "value: the digit as a number, for regression. An upload with yes/no columns or "
        "float targets trains its own (the default follows the dataset)",
    )
    label_names: list[str] | None = Field(
        None,
        description="set by the service: the yes/no columns of an uploaded multi-label "
        "dataset, what each output unit answers; null otherwise",
    )


class DenseLayer(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"type": "dense", "units": 25, "activation": "sigmoid"}]},
    )

    type: Literal["dense"]
    units: int = Field(ge=1, le=65_536)
    activation: Activation = "linear"
    l2: float = Field(0.0, ge=0, le=1, description="L2 weight decay on this layer's kernel")


class Conv2DLayer(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "conv2d", "filters": 16, "kernel_size": 3, "activation": "relu"}]
        },
    )

    type: Literal["conv2d"]
    filters: int = Field(ge=1, le=4096)
    kernel_size: int = Field(3, ge=1, le=31)
    strides: int = Field(1, ge=1, le=31)
    padding: Padding = "valid"
    activation: Activation = "linear"
    l2: float = Field(0.0, ge=0, le=1, description="L2 weight decay on this layer's kernel")


class MaxPool2DLayer(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "max_pool2d", "pool_size": 2}]}
    )

    type: Literal["max_pool2d"]
    pool_size: int = Field(2, ge=1, le=31)


class FlattenLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"type": "flatten"}]})

    type: Literal["flatten"]


class DropoutLayer(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "dropout", "rate": 0.2}]}
    )

    type: Literal["dropout"]
    rate: float = Field(ge=0, lt=1)


class BatchNormalizationLayer(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "batch_normalization"}]}
    )

    type: Literal["batch_normalization"]
    momentum: float = Field(0.99, gt=0, lt=1, description="of the moving mean and variance")
    epsilon: float = Field(0.001, gt=0, le=1)


Layer = Annotated[
    DenseLayer
    | Conv2DLayer
    | MaxPool2DLayer
    | FlattenLayer
    | DropoutLayer
    | BatchNormalizationLayer,
    Field(discriminator="type"),
]


class ModelSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "layers": [
                        {"type": "dense", "units": 25, "activation": "sigmoid"},
                        {"type": "dense", "units": 15, "activation": "sigmoid"},
                        {"type": "dense", "units": 1, "activation": "sigmoid"},
                    ]
                }
            ]
        },
    )

    layers: list[Layer] = Field(min_length=1)
    input_shape: list[int] | None = Field(
        None, description="set by the service from the dataset (shown in the normalised spec)"
    )
    flatten_input: bool | None = Field(
        None,
        description="set by the service: true when the first layer is dense, so the image is "
        "flattened into a vector before it. Not a layer: layer numbers stay the ones you sent",
    )


class OptimizerSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "adam", "learning_rate": 0.001}]}
    )

    type: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(0.001, gt=0, le=10)


LossName = Literal[
    "binary_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
]


class LossSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "sparse_categorical_crossentropy", "from_logits": True}]
        },
    )

    type: LossName
    from_logits: bool = False


Monitor = Literal["val_loss", "val_accuracy", "loss", "accuracy"]


class EarlyStoppingSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"monitor": "val_loss", "patience": 3}]},
    )

    monitor: Monitor = "val_loss"
    patience: int = Field(3, ge=0, description="epochs without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smaller changes do not count as improvement")
    restore_best_weights: bool = Field(True, description="end with the best epoch's weights")


class ExponentialDecay(_Strict):
    type: Literal["exponential"]
    decay_rate: float = Field(0.9, gt=0, le=1, description="factor per decay_epochs")
    decay_epochs: float = Field(1.0, gt=0, description="epochs over which the rate is applied")


class CosineDecay(_Strict):
    type: Literal["cosine"]
    alpha: float = Field(0.0, ge=0, le=1, description="final rate as a fraction of the first")


class ReduceOnPlateau(_Strict):
    type: Literal["reduce_on_plateau"]
    monitor: Monitor = "val_loss"
    factor: float = Field(0.5, gt=0, lt=1, description="the rate is multiplied by this")
    patience: int = Field(2, ge=0, description="epochs without improvement before reducing")
    min_delta: float = Field(0.0, ge=0)
    min_learning_rate: float = Field(0.0, ge=0)


LearningRateSchedule = Annotated[
    ExponentialDecay | CosineDecay | ReduceOnPlateau, Field(discriminator="type")
]


class AugmentationSpec(_Strict):
    """Random affine changes of training images, drawn from the run's seed per epoch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"shift": 0.1, "rotation": 10, "zoom": 0.1}]},
    )

    shift: float = Field(0.0, ge=0, le=0.5, description="up to this fraction of width/height")
    rotation: float = Field(0.0, ge=0, le=180, description="up to this many degrees either way")
    zoom: float = Field(0.0, ge=0, lt=1, description="scale by 1 +- up to this fraction")


class TrainingSpec(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "optimizer": {"type": "adam", "learning_rate": 0.001},
                    "loss": "binary_crossentropy",
                    "epochs": 20,
                    "batch_size": 32,
                    "validation_split": 0.1,
                    "seed": 42,
                }
            ]
        },
    )

    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: LossSpec = Field(description='an object, or just its name: "binary_crossentropy"')
    metrics: list[Metric] = Field(default_factory=lambda: list[Metric](["accuracy"]))
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    validation_split: float = Field(0.1, ge=0, lt=0.5)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    max_seconds: float | None = Field(
        None, gt=0, description="wall-clock cap for this run, below the service's own cap"
    )
    early_stopping: EarlyStoppingSpec | None = Field(
        None, description="stop when the monitored metric stops improving"
    )
    lr_schedule: LearningRateSchedule | None = Field(
        None, description="exponential, cosine or reduce_on_plateau"
    )
    augmentation: AugmentationSpec | None = Field(
        None, description="random shifts, rotations and zoom of training images only"
    )
    queue: str | None = Field(
        None,
        max_length=64,
        description="the named worker queue to run on (e.g. gpu); the service's first queue "
        "when absent",
    )

    @field_validator("loss", mode="before")
    @classmethod
    def _loss_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value


class RunSpec(_Strict):
    """A network, the data it learns from and how it is trained."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "zero-vs-one",
                    "dataset": {"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2},
                    "model": {
                        "layers": [
                            {"type": "dense", "units": 25, "activation": "sigmoid"},
                            {"type": "dense", "units": 15, "activation": "sigmoid"},
                            {"type": "dense", "units": 1, "activation": "sigmoid"},
                        ]
                    },
                    "training": {
                        "optimizer": {"type": "adam", "learning_rate": 0.001},
                        "loss": {"type": "binary_crossentropy"},
                        "metrics": ["accuracy"],
                        "epochs": 20,
                        "batch_size": 32,
                        "validation_split": 0.1,
                        "seed": 42,
                    },
                }
            ]
        },
    )

    # Printable text only: it is shown in terminals and logs, and PostgreSQL refuses NUL.
    name: str = Field(
        "",
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="a label for people; printable text, no control characters",
    )
    dataset: DatasetSpec
    model: ModelSpec
    training: TrainingSpec


def task_of(spec: RunSpec | dict[str, Any]) -> Task:
    """What the output layer answers, which decides how it is checked, evaluated and read.

    The one place this is decided: validation, evaluation and prediction all ask here.
    """
    data = spec if isinstance(spec, dict) else spec.model_dump()
    target = data["dataset"].get("target", "label")
    if target == "multilabel":
        return Task.MULTILABEL
    if target == "value":
        return Task.REGRESSION
    return Task.BINARY if data["model"]["layers"][-1].get("units") == 1 else Task.MULTICLASS
