"""Comparing runs side by side: what differs in their specs, how each trained, which did best.

The course's lessons are comparisons (softmax vs linear + ``from_logits``, sigmoid vs ReLU
hidden layers, SGD vs Adam), so the answer leads with the spec differences, and warns when
the test metrics are not comparable at all (different datasets, classes or targets).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.db.session import read_session
from app.db.tables import EpochMetric, Run
from app.enums import RunStatus
from app.errors import FieldError, InvalidInput, NotFound, escape_pointer_token
from app.runs.ids import is_run_id
from app.settings import Settings

MAX_COMPARED = 10
_MISSING = object()  # a key one spec has and another lacks; shown as null
# Test-set numbers that only mean the same thing on the same test set.
_COMPARABILITY_KEYS = (
    "/dataset/name",
    "/dataset/classes",
    "/dataset/target",
    "/dataset/test_fraction",
    "/training/seed",
)
_LOSS_KEY = "/training/loss/type"  # MSE and cross-entropy values are on different scales


def compared_ids(raw: list[str]) -> list[str]:
    """``?ids=a&ids=b`` or ``?ids=a,b``: 2 to MAX_COMPARED distinct ids, in the order given."""
    ids = list(dict.fromkeys(i.strip() for part in raw for i in part.split(",") if i.strip()))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidInput(
            f"Compare 2 to {MAX_COMPARED} runs, not {len(ids)}.",
            [
                FieldError(
                    "/ids",
                    f"{len(ids)} distinct run id(s) given",
                    f"pass 2 to {MAX_COMPARED} ids: ?ids=RUN_A&ids=RUN_B (or ?ids=RUN_A,RUN_B)",
                )
            ],
        )
    return ids


def compare_runs(settings: Settings, ids: list[str]) -> dict[str, Any]:
    runs, seconds = _load(settings, ids)
    differences = spec_differences([run.spec for run in runs])
    differing = {d["pointer"] for d in differences}
    return {
        "runs": [_summary(run, seconds.get(run.id, 0.0)) for run in runs],
        "spec_differences": differences,
        "best": _best(runs, differing),
        "warnings": _incomparable(differing),
    }


def _load(settings: Settings, ids: list[str]) -> tuple[list[Run], dict[str, float]]:
    with read_session(settings.resolved_database_url) as session:
        wellformed = [i for i in ids if is_run_id(i)]
        found = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(wellformed)))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"No run with id {', '.join(map(repr, missing))}.")
        totals = session.execute(
            select(EpochMetric.run_id, func.sum(EpochMetric.seconds))
            .where(EpochMetric.run_id.in_(wellformed))
            .group_by(EpochMetric.run_id)
        ).all()
    return [found[i] for i in ids], {run_id: float(total) for run_id, total in totals}


def _summary(run: Run, seconds: float) -> dict[str, Any]:
    evaluation = run.evaluation or {}
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "progress": {"epoch": run.epoch, "epochs": run.epochs},
        "metrics": run.last_metrics,
        "test": {k: v for k, v in evaluation.items() if isinstance(v, int | float)} or None,
        "train_seconds": round(seconds, 3),
    }


def spec_differences(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every JSON pointer whose value is not the same in all specs, with each spec's value
    (null where a spec has no such key), in the order the specs first mention them."""
    flat = [_flatten(spec) for spec in specs]
    pointers = list(dict.fromkeys(p for f in flat for p in f))
    differences = []
    for pointer in pointers:
        values = [f.get(pointer, _MISSING) for f in flat]
        if any(v != values[0] for v in values[1:]):
            differences.append(
                {"pointer": pointer, "values": [None if v is _MISSING else v for v in values]}
            )
    return differences


def _flatten(value: Any, pointer: str = "") -> dict[str, Any]:
    """Leaves by JSON pointer; lists of scalars (classes, input_shape) stay whole."""
    if isinstance(value, dict):
        items = [(f"{pointer}/{escape_pointer_token(str(k))}", v) for k, v in value.items()]
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        items = [(f"{pointer}/{i}", v) for i, v in enumerate(value)]
    else:
        return {pointer: value}
    out: dict[str, Any] = {}
    for child, v in items:
        out.update(_flatten(v, child))
    return out


def _best(runs: list[Run], differing: set[str]) -> dict[str, str | None]:
    """The succeeded run with the highest test accuracy and the one with the lowest test loss.

    None when the numbers are not comparable (the warnings say why): no best accuracy or loss
    across different test sets, no best loss across different losses.
    """
    same_test_set = not differing.intersection(_COMPARABILITY_KEYS)
    if not same_test_set:
        return {"test_accuracy": None, "test_loss": None}
    losses_comparable = _LOSS_KEY not in differing
    scored = [
        (r.id, r.evaluation) for r in runs if r.status == RunStatus.SUCCEEDED and r.evaluation
    ]
    accuracy = [(i, e["accuracy"]) for i, e in scored if isinstance(e.get("accuracy"), int | float)]
    loss = [(i, e["loss"]) for i, e in scored if isinstance(e.get("loss"), int | float)]
    best_accuracy = max(accuracy, key=lambda pair: pair[1], default=None)
    best_loss = min(loss, key=lambda pair: pair[1], default=None) if losses_comparable else None
    return {
        "test_accuracy": best_accuracy[0] if best_accuracy else None,
        "test_loss": best_loss[0] if best_loss else None,
    }


def _incomparable(differing: set[str]) -> list[dict[str, str]]:
    warnings = [
        {
            "pointer": pointer,
            "message": "the runs differ here, so their test metrics come from different "
            "test sets or tasks",
            "hint": "compare runs trained on the same dataset, classes, target, split and seed",
        }
        for pointer in _COMPARABILITY_KEYS
        if pointer in differing
    ]
    if _LOSS_KEY in differing:
        warnings.append(
            {
                "pointer": _LOSS_KEY,
                "message": "the runs minimise different losses, whose values are on "
                "different scales; no best test loss is named",
                "hint": "compare their test accuracy instead",
            }
        )
    return warnings
