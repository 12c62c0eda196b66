"""Optuna's samplers and pruner over the trials stored in our database.

The database is the study's storage: each decision rebuilds an in-memory Optuna study from
the sweep's trial runs (params, state, objective, per-epoch values) and asks or prunes with
it. Optuna's own RDB storage would bring a second schema and a second Alembic history into
our database; rebuilding is milliseconds for the tens of trials a sweep has, and it makes
every process (API, any worker) able to drive any sweep after any restart.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

# A trial is compared with the median of the earlier finished trials at the same epoch,
# once two have finished and from its second epoch on: one noisy epoch must not end a run.
PRUNER_STARTUP_TRIALS = 2
PRUNER_WARMUP_EPOCHS = 2


@dataclass(frozen=True)
class PastTrial:
    params: dict[str, Any]
    state: str  # "complete", "pruned", "failed", "running"
    value: float | None
    intermediate: dict[int, float]


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    return optuna


def _is_listed(dim: dict[str, Any]) -> bool:
    return "values" in dim or "choices" in dim


def _listed(dim: dict[str, Any]) -> list[Any]:
    return list(dim["values"] if "values" in dim else dim["choices"])


def _distribution(dim: dict[str, Any], whole: bool) -> Any:
    d = _optuna().distributions
    if _is_listed(dim):
        # Indices, not the values: Optuna's choices must be scalars, ours may be layer objects.
        return d.CategoricalDistribution(list(range(len(_listed(dim)))))
    if whole:
        return d.IntDistribution(int(dim["low"]), int(dim["high"]), log=dim["log"])
    return d.FloatDistribution(dim["low"], dim["high"], log=dim["log"])


def _index_of(values: list[Any], value: Any) -> int:
    for i, v in enumerate(values):
        if v == value and type(v) is type(value):
            return i
    return next(i for i, v in enumerate(values) if v == value)


def _whole(sweep: dict[str, Any], pointer: str) -> bool:
    from app.sweeps.pointers import resolve

    current = resolve(sweep["base"], pointer)
    return isinstance(current, int) and not isinstance(current, bool)


def _study(sweep: dict[str, Any], trials: list[PastTrial], sampler: Any) -> Any:
    optuna = _optuna()
    direction = "maximize" if sweep["objective"]["direction"] == "max" else "minimize"
    study = optuna.create_study(direction=direction, sampler=sampler)
    dists = {p: _distribution(d, _whole(sweep, p)) for p, d in sweep["space"].items()}
    states = {
        "complete": optuna.trial.TrialState.COMPLETE,
        "pruned": optuna.trial.TrialState.PRUNED,
        "failed": optuna.trial.TrialState.FAIL,
        "running": optuna.trial.TrialState.RUNNING,
    }
    for past in trials:
        params = {
            p: _index_of(_listed(sweep["space"][p]), v) if _is_listed(sweep["space"][p]) else v
            for p, v in past.params.items()
        }
        study.add_trial(
            optuna.trial.create_trial(
                state=states[past.state],
                params=params,
                distributions=dists,
                value=past.value if past.state == "complete" else None,
                intermediate_values=past.intermediate,
            )
        )
    return study, dists


def grid_point(sweep: dict[str, Any], number: int) -> dict[str, Any] | None:
    """The ``number``-th combination of the grid, in the order the space lists them."""
    axes = {p: _listed(d) for p, d in sweep["space"].items()}
    combo = next(itertools.islice(itertools.product(*axes.values()), number, None), None)
    return None if combo is None else dict(zip(axes, combo, strict=True))


def next_params(sweep: dict[str, Any], trials: list[PastTrial]) -> dict[str, Any] | None:
    """Parameters of the next trial, or None when the space is exhausted (grids)."""
    if sweep["method"] == "grid":
        return grid_point(sweep, len(trials))
    optuna = _optuna()
    # A fresh seed per trial: the rebuilt sampler would otherwise repeat its first draw.
    seed = sweep["seed"] + len(trials)
    if sweep["method"] == "tpe":
        startup = max(2, min(10, sweep["max_runs"] // 3))
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study, dists = _study(sweep, trials, sampler)
    trial = study.ask(fixed_distributions=dists)
    out: dict[str, Any] = {}
    for pointer, dim in sweep["space"].items():
        value = trial.params[pointer]
        out[pointer] = _listed(dim)[value] if _is_listed(dim) else value
    return out


def should_prune(sweep: dict[str, Any], trials: list[PastTrial], current: PastTrial) -> bool:
    """Optuna's median pruner on the current trial's per-epoch values so far."""
    optuna = _optuna()
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
    )
    study, dists = _study(sweep, trials, optuna.samplers.RandomSampler(seed=0))
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING,
            params={
                p: _index_of(_listed(sweep["space"][p]), v) if _is_listed(sweep["space"][p]) else v
                for p, v in current.params.items()
            },
            distributions=dists,
            intermediate_values=current.intermediate,
        )
    )
    return bool(pruner.prune(study, study.trials[-1]))


def pruning_metric(sweep: dict[str, Any]) -> str:
    """The per-epoch metric the pruner watches: the objective, or its validation twin."""
    metric: str = sweep["objective"]["metric"]
    return "val_" + metric.removeprefix("test_") if metric.startswith("test_") else metric
