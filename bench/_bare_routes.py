"""The bare baselines' Starlette app, given only a forward pass (logits for N×28×28×1).

Baselines (c) and (d) differ in nothing but the runtime, so the routes live here once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Forward = Callable[[np.ndarray], np.ndarray]


def bare_app(forward: Forward) -> Starlette:
    def answer(x: np.ndarray) -> Response:
        logits = forward(x[..., np.newaxis])
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        return JSONResponse(
            {
                "predictions": [
                    {"label": int(p.argmax()), "probabilities": p.tolist()} for p in probs
                ]
            }
        )

    async def predict(request: Request) -> Response:
        body = await request.body()
        return answer(np.asarray(json.loads(body)["instances"], dtype=np.float32))

    async def predict_image(request: Request) -> Response:
        async with request.form() as form:
            data = await form["file"].read()  # type: ignore[union-attr]
        image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
        return answer(np.asarray(image, dtype=np.float32)[np.newaxis] / 255.0)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    answer(np.zeros((1, 28, 28), dtype=np.float32))  # warm-up
    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/predict/image", predict_image, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
