"""Baseline (c): the least a server can do per request. Not part of the product.

Bare Starlette, no validation or preprocessing: body -> ``json.loads`` -> ``np.asarray`` ->
a concrete function traced once for (None, 28, 28, 1) (as app/inference/predictor.py does),
called inline on the event loop -> softmax -> JSON. PNG uploads are decoded with Pillow and
resized only. TensorFlow threads: library defaults, as in trainserve's API process.
"""

from __future__ import annotations

import io
import json
import os

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_model = keras.saving.load_model(os.environ["BENCH_MODEL_PATH"], compile=False)
_forward = tf.function(lambda x: _model(x, training=False), input_signature=[
    tf.TensorSpec((None, 28, 28, 1), tf.float32)]).get_concrete_function()


def _answer(x: np.ndarray) -> Response:
    logits = _forward(tf.constant(x[..., np.newaxis]))
    logits = logits.numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return JSONResponse({"predictions": [{"label": int(p.argmax()), "probabilities": p.tolist()}
                                         for p in probs]})


async def predict(request: Request) -> Response:
    body = await request.body()
    return _answer(np.asarray(json.loads(body)["instances"], dtype=np.float32))


async def predict_image(request: Request) -> Response:
    async with request.form() as form:
        data = await form["file"].read()  # type: ignore[union-attr]
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return _answer(np.asarray(image, dtype=np.float32)[np.newaxis] / 255.0)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


_answer(np.zeros((1, 28, 28), dtype=np.float32))  # warm-up
app = Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                        Route("/predict/image", predict_image, methods=["POST"]),
                        Route("/healthz", healthz)])
