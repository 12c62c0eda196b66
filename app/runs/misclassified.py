"""The held-out test images a trained run got wrong, for the dashboard's error gallery.

The worker records only their indices in the test split (``evaluation.misclassified``); the
images are re-derived here from the same seeded split, so nothing image-sized lives in the
database and the run object stays small.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.datasets.builtin import load_split, split_arrays
from app.datasets.pixels import png_data_url
from app.datasets.service import load_for_training
from app.errors import Conflict
from app.runs import service
from app.settings import Settings


def misclassified(settings: Settings, run_id: str, limit: int) -> dict[str, Any]:
    run = service.get_run(settings, run_id)
    if run.status != "succeeded" or not run.evaluation:
        raise Conflict(f"Run {run_id} is {run.status}; only succeeded runs have an evaluation.")
    recorded = run.evaluation.get("misclassified")
    matrix: list[list[int]] = run.evaluation.get("confusion_matrix") or []
    if recorded is None or not _is_square(matrix):
        raise Conflict(
            f"Run {run_id} has no record of misclassified images: it is not a single-label "
            "classifier, or it was trained before trainserve recorded them."
        )
    total = sum(n for i, row in enumerate(matrix) for j, n in enumerate(row) if i != j)
    ds, seed = run.spec["dataset"], run.spec["training"]["seed"]
    classes = tuple(ds["classes"] or ())
    key = (ds["name"], ds.get("version"), classes, ds["test_fraction"], seed)
    images = _test_images(settings, key)
    items = [{**entry, "image": png_data_url(images[entry["index"]])} for entry in recorded[:limit]]
    return {"run_id": run_id, "total": total, "items": items}


def _is_square(matrix: object) -> bool:
    return isinstance(matrix, list) and all(
        isinstance(row, list) and len(row) == len(matrix) and all(isinstance(n, int) for n in row)
        for row in matrix
    )


_TestSplitKey = tuple[str, int | None, tuple[int, ...], float, int]
_cache: dict[tuple[str, _TestSplitKey], np.ndarray] = {}  # keyed by data dir too


def _test_images(settings: Settings, key: _TestSplitKey) -> np.ndarray:
    """The run's test images, split exactly as app.training.data splits them for training.

    Cache (process-wide, the last two splits): reloading mnist for every gallery view costs
    ~0.5 s.
    """
    cache_key = (str(settings.data_dir), key)
    if cache_key in _cache:
        return _cache[cache_key]
    name, version, classes, test_fraction, seed = key
    if version is None:
        split = load_split(name, list(classes) or None, test_fraction, seed, settings.data_dir)
    else:
        images, labels, _ = load_for_training(settings, name, version)
        split = split_arrays(images, labels, 1.0, list(classes), test_fraction, seed)
    while len(_cache) >= 2:
        _cache.pop(next(iter(_cache)))
    _cache[cache_key] = split.x_test
    return split.x_test
