"""Baseline (b): what a typical FastAPI + Keras tutorial serves. Not part of the product.

Loads the .keras file named by $BENCH_MODEL_PATH with ``keras.saving.load_model`` and, per
request, validates ``{"instances": [...]}`` with pydantic and calls ``model.predict``, then a
softmax (the benchmark model outputs logits). Handlers are plain ``def`` so FastAPI runs them
in its thread pool (the kinder choice: an ``async def`` with model.predict blocks the loop).
TensorFlow threads: library defaults, as in trainserve's API process.
"""

from __future__ import annotations

import io
import os
from typing import Annotated

import keras
import numpy as np
from fastapi import FastAPI, File, UploadFile
from PIL import Image
from pydantic import BaseModel

model = keras.saving.load_model(os.environ["BENCH_MODEL_PATH"])
app = FastAPI()


class PredictRequest(BaseModel):
    instances: list[list[list[float]]]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _answer(x: np.ndarray) -> dict:
    probs = _softmax(model.predict(x[..., np.newaxis], verbose=0))
    return {"predictions": [{"label": int(p.argmax()), "probabilities": p.tolist()} for p in probs]}


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> dict:
    return _answer(np.array(request.instances, dtype=np.float32))


@app.post("/predict/image")
def predict_image(file: Annotated[UploadFile, File()]) -> dict:
    image = Image.open(io.BytesIO(file.file.read())).convert("L").resize((28, 28))
    return _answer(np.asarray(image, dtype=np.float32)[np.newaxis] / 255.0)
