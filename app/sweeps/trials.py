"""A sweep's trials as the sampler and the API see them: state, params, objective."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.tables import EpochMetric, Run
from app.enums import ACTIVE, RunStatus
from app.sweeps.sampler import PastTrial, pruning_metric

PRUNED = "pruned"


def is_pruned(run: Run) -> bool:
    return run.status == RunStatus.CANCELLED and (run.failure_reason or "").startswith(PRUNED)


def objective_of(run: Run, metric: str) -> float | None:
    """The trial's objective once it succeeded: the value of the model it kept (the last
    epoch's, or the best one's when early stopping restored it), or the test value."""
    if run.status != RunStatus.SUCCEEDED:
        return None
    early = run.early_stopping or {}
    if metric.startswith("test_"):
        value = (run.evaluation or {}).get(metric.removeprefix("test_"))
    elif early.get("restored_best_weights") and early.get("monitor") == metric:
        value = early.get("best")  # the model kept is the best epoch's, not the last one's
    else:
        value = (run.last_metrics or {}).get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def state_of(run: Run, metric: str) -> str:
    if run.status in ACTIVE:
        return "running"
    if is_pruned(run):
        return "pruned"
    return "complete" if objective_of(run, metric) is not None else "failed"


def sweep_trials(session: Session, sweep_id: str) -> list[Run]:
    return list(session.scalars(select(Run).where(Run.sweep_id == sweep_id).order_by(Run.id)))


def past_trials(
    session: Session, sweep: dict[str, Any], runs: list[Run], with_epochs: bool = False
) -> list[PastTrial]:
    metric = sweep["objective"]["metric"]
    per_epoch: dict[str, dict[int, float]] = {r.id: {} for r in runs}
    if with_epochs and runs:
        watched = pruning_metric(sweep)
        rows = session.execute(
            select(EpochMetric.run_id, EpochMetric.epoch, EpochMetric.values).where(
                EpochMetric.run_id.in_([r.id for r in runs])
            )
        )
        for run_id, epoch, values in rows:
            value = (values or {}).get(watched)
            if isinstance(value, int | float) and math.isfinite(value):
                per_epoch[run_id][epoch] = float(value)
    return [
        PastTrial(
            params=r.sweep_params or {},
            state=state_of(r, metric),
            value=objective_of(r, metric),
            intermediate=per_epoch[r.id],
        )
        for r in runs
    ]


def best_of(sweep: dict[str, Any], runs: list[Run]) -> Run | None:
    metric, direction = sweep["objective"]["metric"], sweep["objective"]["direction"]
    scored = [(objective_of(r, metric), r) for r in runs]
    finished = [(v, r) for v, r in scored if v is not None]
    if not finished:
        return None
    sign = 1.0 if direction == "max" else -1.0
    # Ties go to the earlier trial: the same score for more work is no better.
    return max(finished, key=lambda vr: (sign * vr[0], -runs.index(vr[1])))[1]
