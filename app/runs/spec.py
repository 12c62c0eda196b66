"""The run spec: what a user POSTs to describe a network, its data and its training."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Activation = Literal["linear", "sigmoid", "relu", "softmax", "tanh"]
Padding = Literal["valid", "same"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2}]})

    name: str = Field(description="a built-in dataset: digits, mnist-5k or mnist")
    classes: list[int] | None = Field(
        None, description="labels to keep (all when absent); with two classes the first is 0, the second 1")
    test_fraction: float = Field(0.2, gt=0, le=0.5, description="held out for the final evaluation")
    target: Literal["label", "multilabel", "value"] = Field(
        "label", description="label: the class; multilabel: yes/no answers (even, >= 5, closed loop); "
                             "value: the digit as a number, for regression")


class DenseLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "dense", "units": 25, "activation": "sigmoid"}]})

    type: Literal["dense"]
    units: int = Field(ge=1, le=65_536)
    activation: Activation = "linear"


class Conv2DLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "conv2d", "filters": 16, "kernel_size": 3, "activation": "relu"}]})

    type: Literal["conv2d"]
    filters: int = Field(ge=1, le=4096)
    kernel_size: int = Field(3, ge=1, le=31)
    strides: int = Field(1, ge=1, le=31)
    padding: Padding = "valid"
    activation: Activation = "linear"


class MaxPool2DLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "max_pool2d", "pool_size": 2}]})

    type: Literal["max_pool2d"]
    pool_size: int = Field(2, ge=1, le=31)


class FlattenLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"type": "flatten"}]})

    type: Literal["flatten"]


class DropoutLayer(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "dropout", "rate": 0.2}]})

    type: Literal["dropout"]
    rate: float = Field(ge=0, lt=1)


Layer = Annotated[
    DenseLayer | Conv2DLayer | MaxPool2DLayer | FlattenLayer | DropoutLayer,
    Field(discriminator="type"),
]


class ModelSpec(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"layers": [
        {"type": "dense", "units": 25, "activation": "sigmoid"},
        {"type": "dense", "units": 15, "activation": "sigmoid"},
        {"type": "dense", "units": 1, "activation": "sigmoid"}]}]})

    layers: list[Layer] = Field(min_length=1)
    input_shape: list[int] | None = Field(
        None, description="set by the service from the dataset (shown in the normalised spec)")


class OptimizerSpec(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "adam", "learning_rate": 0.001}]})

    type: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(0.001, gt=0, le=10)


LossName = Literal[
    "binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy",
    "mean_squared_error", "mean_absolute_error",
]


class LossSpec(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"type": "sparse_categorical_crossentropy", "from_logits": True}]})

    type: LossName
    from_logits: bool = False


class TrainingSpec(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "optimizer": {"type": "adam", "learning_rate": 0.001}, "loss": "binary_crossentropy",
        "epochs": 20, "batch_size": 32, "validation_split": 0.1, "seed": 42}]})

    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: LossSpec = Field(description='an object, or just its name: "binary_crossentropy"')
    metrics: list[Literal["accuracy", "mae", "mse"]] = Field(default_factory=lambda: ["accuracy"])
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    validation_split: float = Field(0.1, ge=0, lt=0.5)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    max_seconds: float | None = Field(
        None, gt=0, description="wall-clock cap for this run, below the service's own cap")

    @field_validator("loss", mode="before")
    @classmethod
    def _loss_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value


class RunSpec(_Strict):
    """A network, the data it learns from and how it is trained."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "zero-vs-one",
        "dataset": {"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2},
        "model": {"layers": [
            {"type": "dense", "units": 25, "activation": "sigmoid"},
            {"type": "dense", "units": 15, "activation": "sigmoid"},
            {"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "training": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                     "loss": {"type": "binary_crossentropy"}, "metrics": ["accuracy"],
                     "epochs": 20, "batch_size": 32, "validation_split": 0.1, "seed": 42}}]})

    # Printable text only: it is shown in terminals and logs, and PostgreSQL refuses NUL.
    name: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                      description="a label for people; printable text, no control characters")
    dataset: DatasetSpec
    model: ModelSpec
    training: TrainingSpec
