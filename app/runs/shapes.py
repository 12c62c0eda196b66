"""The shape walk: each layer's output shape from the dataset's image, and the parameter count.

Done without TensorFlow, so the API can say which layer breaks the network (and why) before
anything is queued.
"""

from __future__ import annotations

import math

from app.runs.checked import Checked
from app.runs.spec import (
    BatchNormalizationLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    MaxPool2DLayer,
)
from app.settings import Settings


def walk_shapes(c: Checked, s: Settings) -> None:
    layers = c.spec.model.layers
    shape: tuple[int, ...] = (*c.spec.model.input_shape, 1)  # type: ignore[misc]
    if c.spec.model.flatten_input:
        shape = (math.prod(shape),)
    params = 0
    for i, layer in enumerate(layers):
        at = c.layer_at(i)
        if isinstance(layer, FlattenLayer):
            shape = (math.prod(shape),)
        elif isinstance(layer, DenseLayer):
            if len(shape) != 1:
                c.error(
                    at,
                    f"dense layer gets a {_fmt(shape)} feature map, not a vector",
                    'insert {"type": "flatten"} before it',
                )
                return
            params += shape[0] * layer.units + layer.units
            shape = (layer.units,)
        elif isinstance(layer, Conv2DLayer | MaxPool2DLayer):
            if len(shape) != 3:
                c.error(
                    at,
                    f"{layer.type} needs an image-shaped input, but gets {_fmt(shape)}",
                    "put convolution and pooling layers before flatten and dense layers",
                )
                return
            new = _window(c, at, layer, shape)
            if new is None:
                return
            if isinstance(layer, Conv2DLayer):
                params += layer.kernel_size**2 * shape[2] * layer.filters + layer.filters
            shape = new
        elif isinstance(layer, BatchNormalizationLayer):
            params += 4 * shape[-1]  # scale, offset, moving mean and variance per channel
        elif isinstance(layer, DropoutLayer):
            pass
    if len(shape) != 1:
        c.error(
            c.layer_at(len(layers) - 1),
            f"the network ends in a {_fmt(shape)} feature map",
            'end with {"type": "flatten"} and a dense output layer',
        )
    if params > s.max_parameters:
        c.error(
            "/model/layers",
            f"the network has {params:,} parameters, over the cap of {s.max_parameters:,}",
            "use fewer units or filters, or pool earlier",
        )


def _window(
    c: Checked, at: str, layer: Conv2DLayer | MaxPool2DLayer, shape: tuple[int, ...]
) -> tuple[int, int, int] | None:
    h, w, ch = shape
    if isinstance(layer, Conv2DLayer):
        size, stride, padding, out_ch, field_ = (
            layer.kernel_size,
            layer.strides,
            layer.padding,
            layer.filters,
            "kernel_size",
        )
    else:
        size, stride, padding, out_ch, field_ = (
            layer.pool_size,
            layer.pool_size,
            "valid",
            ch,
            "pool_size",
        )
    if padding == "same":
        return (math.ceil(h / stride), math.ceil(w / stride), out_ch)
    if size > h or size > w:
        c.error(
            f"{at}/{field_}",
            f"{field_} {size} is larger than its {h}x{w} input",
            f'use {field_} <= {min(h, w)}, or padding "same" earlier',
        )
        return None
    return ((h - size) // stride + 1, (w - size) // stride + 1, out_ch)


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)
