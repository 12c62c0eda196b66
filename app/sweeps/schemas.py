"""What the API answers about sweeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.db.tables import Run, Sweep
from app.enums import RunStatus, SweepStatus
from app.runs.schemas import Problem, Progress
from app.sweeps.trials import best_of, is_pruned, objective_of


class Trial(BaseModel):
    number: int = Field(description="1 for the first trial queued")
    run_id: str
    params: dict[str, Any] = Field(description="the value at each pointer of the space")
    status: RunStatus
    pruned: bool
    objective: float | None = Field(description="the objective metric once the trial succeeded")
    progress: Progress
    failure_reason: str | None


class BestTrial(BaseModel):
    run_id: str
    params: dict[str, Any]
    objective: float


class SweepOut(BaseModel):
    id: str
    name: str
    status: SweepStatus
    spec: dict[str, Any] = Field(description="the normalised sweep: base, space, budget, ...")
    warnings: list[Problem]
    created_at: datetime
    finished_at: datetime | None
    failure_reason: str | None
    model_name: str | None
    counts: dict[str, int] = Field(description="trials per status")
    trials: list[Trial]
    best: BestTrial | None = Field(description="the best trial so far by the objective")

    @classmethod
    def of(cls, sweep: Sweep, runs: list[Run]) -> SweepOut:
        metric = sweep.spec["objective"]["metric"]
        trials = [
            Trial(
                number=i + 1,
                run_id=r.id,
                params=r.sweep_params or {},
                status=r.status,
                pruned=is_pruned(r),
                objective=objective_of(r, metric),
                progress=Progress(epoch=r.epoch, epochs=r.epochs),
                failure_reason=r.failure_reason,
            )
            for i, r in enumerate(runs)
        ]
        counts: dict[str, int] = {}
        for r in runs:
            counts[r.status] = counts.get(r.status, 0) + 1
        best_run = best_of(sweep.spec, runs)
        best = None
        if best_run is not None:
            value = objective_of(best_run, metric)
            assert value is not None
            best = BestTrial(
                run_id=best_run.id, params=best_run.sweep_params or {}, objective=value
            )
        return cls(
            id=sweep.id,
            name=sweep.name,
            status=sweep.status,
            spec=sweep.spec,
            warnings=[Problem(**w) for w in sweep.warnings],
            created_at=sweep.created_at,
            finished_at=sweep.finished_at,
            failure_reason=sweep.failure_reason,
            model_name=sweep.model_name,
            counts=counts,
            trials=trials,
            best=best,
        )


class SweepList(BaseModel):
    items: list[SweepOut]
