"""Answering a prediction request: find the model, turn the body into a batch, run the
network, serialise the answers. Used by the /v1 prediction routes.

Where the work runs is chosen per request. Large or unknown images (JPEG, big PNGs), large
JSON batches, models that are slow or not loaded yet, and database lookups over a network go
to worker threads (at most one per core, so concurrent batches do not fight over the GIL). A
small request (a few KiB of JSON, or PNGs whose headers promise few pixels) for a loaded,
fast model is answered on the event loop: a thread hop would cost as much as its forward
pass. Such requests that arrive in the same loop iteration share one forward pass.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
import orjson

from app.datasets.pixels import png_data_url
from app.db.session import is_sqlite
from app.inference import resolve
from app.inference.cache import ModelCache
from app.inference.decoding.request import batch_from_files, batch_from_json, is_pixel_json
from app.inference.predictor import Predictor
from app.inference.resolve import ModelLookup, Target
from app.metrics import COALESCED
from app.settings import Settings

# A request is answered on the event loop only when its body is this small (a few 28x28
# images as JSON numbers) and its model's single-image forward pass measured at load time is
# this fast (a small MLP or CNN: 0.2-0.5 ms here); anything larger would stall other clients.
INLINE_MAX_BODY_BYTES = 64 * 1024
INLINE_MAX_FORWARD_SECONDS = 0.002
# Uploads are decoded on the loop only when their PNG headers promise this few pixels in all
# (a 128x128 canvas, or a few 28x28 digits: well under 1 ms of decoding and preprocessing).
# Anything else, JPEG included, may be a 25 MP photo and is decoded in a worker thread.
INLINE_MAX_PIXELS = 128 * 128
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PredictionService:
    def __init__(self, settings: Settings, cache: ModelCache, lookup: ModelLookup) -> None:
        self.settings, self.cache, self.lookup = settings, cache, lookup
        self._local_lookup = is_sqlite(settings.resolved_database_url)
        self._limiter = anyio.CapacityLimiter(os.cpu_count() or 1)
        self._coalescer = Coalescer()

    async def answer(
        self,
        find: Callable[[ModelLookup], Target],
        body: bytes,
        files: list[bytes] | None,
        preprocess: bool,
        with_input: bool = False,
    ) -> bytes:
        """The JSON answer for one request; raises ServiceError subclasses for bad input.

        ``with_input`` adds each instance as the model saw it (a PNG data URL) to its answer:
        a debugging aid for people, so it takes the plain threaded path.
        """
        if with_input:
            return await anyio.to_thread.run_sync(
                self._answer, find, body, files, preprocess, True, limiter=self._limiter
            )
        if self._local_lookup and answerable_inline(body, files):
            target = find(self.lookup)
            predictor = self.cache.peek((target.run_id, target.artifact_sha256))
            if predictor is not None and predictor.forward_seconds <= INLINE_MAX_FORWARD_SECONDS:
                batch = self._batch(predictor, body, files, preprocess)
                return _encode(target, await self._coalescer.predict(predictor, batch))
        return await anyio.to_thread.run_sync(
            self._answer, find, body, files, preprocess, limiter=self._limiter
        )

    def _answer(
        self,
        find: Callable[[ModelLookup], Target],
        body: bytes,
        files: list[bytes] | None,
        preprocess: bool,
        with_input: bool = False,
    ) -> bytes:
        target = find(self.lookup)
        predictor = resolve.cached_predictor(self.cache, self.settings, target)
        batch = self._batch(predictor, body, files, preprocess)
        answers = predictor.predict(batch)
        if with_input:
            answers = [{**a, "input": png_data_url(x)} for a, x in zip(answers, batch, strict=True)]
        return _encode(target, answers)

    def _batch(
        self, predictor: Predictor, body: bytes, files: list[bytes] | None, preprocess: bool
    ) -> np.ndarray:
        limit = self.settings.max_predict_instances
        if files is not None:
            return batch_from_files(files, predictor.input_shape, preprocess, limit)
        return batch_from_json(body, predictor.input_shape, preprocess, limit)


def answerable_inline(body: bytes, files: list[bytes] | None) -> bool:
    """Cheap enough to answer on the event loop: a small JSON body of pixel lists, or small
    PNG uploads whose headers (read without decoding) say they have few pixels."""
    if files is None:
        # 40 KiB of base64 can hold a 25 MP white PNG: images in JSON go to a thread.
        return len(body) <= INLINE_MAX_BODY_BYTES and is_pixel_json(body)
    if sum(map(len, files)) > INLINE_MAX_BODY_BYTES:
        return False
    pixels = 0
    for data in files:
        # A PNG starts with its signature and the IHDR chunk: length, type, width, height.
        if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
            return False
        width, height = struct.unpack(">II", data[16:24])
        pixels += width * height
    return pixels <= INLINE_MAX_PIXELS


def _encode(target: Target, answers: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {"model": {"run_id": target.run_id, "name": target.name}, "predictions": answers}
    )


class Coalescer:
    """Runs the forward passes of requests that reach it in the same event-loop iteration as
    one batch per model. Nothing waits for company: the batch is run as soon as the loop has
    let every ready request through, so a lone request pays one callback, and 16 concurrent
    clients of a small model pay one forward pass instead of 16.

    A lone client does not even pay the callback: once ``LONE_BATCHES`` batches in a row had
    one request, the next ``LONE_SKIPS`` requests that find nothing pending run their forward
    pass at once (the loop turn and the future were ~5 % of a lone client's request over
    HTTP). Then one waits again, so clients arriving together are noticed within a few
    requests, and from then on wait for each other."""

    LONE_BATCHES = 3
    LONE_SKIPS = 7

    def __init__(self) -> None:
        self._pending: dict[Predictor, list[tuple[np.ndarray, asyncio.Future[Any]]]] = {}
        self._lone = 0  # batches in a row that had one request
        self._skips = 0  # requests that may still skip the wait

    async def predict(self, predictor: Predictor, batch: np.ndarray) -> list[dict[str, Any]]:
        if not self._pending and self._skips > 0:
            self._skips -= 1
            answers = predictor.predict(batch)
            COALESCED.observe(1)
            return answers
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.setdefault(predictor, []).append((batch, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for predictor, items in pending.items():
            live = [(b, f) for b, f in items if not f.cancelled()]
            if not live:
                continue
            try:
                answers = predictor.predict(np.concatenate([b for b, _ in live]))
            except Exception as exc:
                for _, future in live:
                    future.set_exception(exc)
                continue
            COALESCED.observe(len(live))
            self._lone = self._lone + 1 if len(pending) == len(live) == 1 else 0
            self._skips = self.LONE_SKIPS if self._lone >= self.LONE_BATCHES else 0
            start = 0
            for batch, future in live:
                future.set_result(answers[start : start + len(batch)])
                start += len(batch)
