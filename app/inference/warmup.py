"""Load every named model into the prediction cache at start-up, off the request path.

Readiness waits for it, so a load balancer never sends the first prediction to a cold model.
With no named models nothing is loaded and TensorFlow is not even imported.
"""

from __future__ import annotations

import logging
import threading

from app.errors import ServiceError
from app.inference import gc_freeze, resolve
from app.inference.cache import ModelCache
from app.inference.resolve import ModelLookup
from app.runs.names import list_names
from app.settings import Settings

log = logging.getLogger("trainserve.inference")


def warm(cache: ModelCache, lookup: ModelLookup, settings: Settings) -> None:
    with gc_freeze.deferred():  # one full collection for all of them, not one per model
        for row in list_names(settings)[: settings.model_cache_size]:
            try:
                resolve.cached_predictor(cache, settings, lookup.by_name(row.name))
            except ServiceError as exc:  # a broken model must not keep the service unready
                log.warning("model %s not warmed up: %s", row.name, exc.detail)


def start_warmup(
    cache: ModelCache, lookup: ModelLookup, settings: Settings, done: threading.Event
) -> None:
    def run() -> None:
        try:
            warm(cache, lookup, settings)
        except Exception:
            log.exception("model warm-up failed")
        finally:
            done.set()

    threading.Thread(target=run, name="model-warmup", daemon=True).start()
