"""Checks of a sweep body, done before anything is stored: the sweep's own fields, the base
spec, and every value of the space substituted into the base and validated as a run spec.

All problems are collected and reported at once, with pointers into the sweep body.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.errors import (
    FieldError,
    InvalidInput,
    InvalidSpec,
    escape_pointer_token,
)
from app.runs.ids import is_model_name
from app.runs.parsing import did_you_mean, parse_spec, schema_problems
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from app.sweeps.pointers import BadPointer, resolve, with_value
from app.sweeps.spec import METHODS, OBJECTIVE_METRICS, Dimension, SweepSpec

# Interactions between dimensions are checked on at most this many combinations.
MAX_COMBINATIONS_CHECKED = 256
MAX_VALUES = 100
DEFAULT_RANDOM_RUNS = 10


@dataclass
class _Checked:
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)

    def error(self, pointer: str, message: str, hint: str) -> None:
        self.errors.append(FieldError(pointer, message, hint))


def space_pointer(key: str, *rest: str | int) -> str:
    return "/space/" + escape_pointer_token(key) + "".join(f"/{r}" for r in rest)


def trial_errors(
    base: dict[str, Any], params: dict[str, Any], settings: Settings
) -> list[FieldError]:
    """What is wrong with the run spec of one trial (empty when it would be accepted)."""
    spec = base
    for pointer, value in params.items():
        spec = with_value(spec, pointer, value)
    try:
        check_spec(RunSpec.model_validate(spec), settings)
    except ValidationError as exc:
        return schema_problems(exc, RunSpec)
    except InvalidSpec as exc:
        return exc.errors
    return []


def trial_spec(base: dict[str, Any], params: dict[str, Any]) -> RunSpec:
    spec = base
    for pointer, value in params.items():
        spec = with_value(spec, pointer, value)
    return RunSpec.model_validate(spec)


def check_sweep(sweep: SweepSpec, settings: Settings) -> tuple[dict[str, Any], list[FieldError]]:
    """The normalised sweep (stored as is) and its warnings; raises InvalidInput listing
    every problem."""
    c = _Checked()
    base = _check_base(c, sweep, settings)
    _check_method_and_budget(c, sweep, settings)
    direction = _check_objective(c, sweep, base)
    dims = _check_space(c, sweep, base)
    if sweep.model_name is not None and not is_model_name(sweep.model_name):
        c.error(
            "/model_name",
            f"{sweep.model_name!r} is not a valid model name",
            "1-100 letters, digits, '.', '_' or '-', e.g. 'digits-best'",
        )
    if base is not None and dims:
        # Only the well-formed dimensions; combinations only when all of them are.
        _check_trials(c, base, dims, settings, combine=len(dims) == len(sweep.space))
    max_runs = _max_runs(c, sweep, dims, settings)
    if c.errors:
        n = len(c.errors)
        raise InvalidInput(
            f"The sweep has {n} problem{'s' if n != 1 else ''}; see errors.", c.errors
        )
    assert base is not None and dims is not None and max_runs is not None
    normalised = {
        "name": sweep.name,
        "base": base,
        "space": {
            k: d.model_dump(exclude_none=True, exclude_defaults=True) | _kind(d)
            for k, d in dims.items()
        },
        "method": sweep.method,
        "max_runs": max_runs,
        "parallel": min(sweep.parallel, max_runs),
        "objective": {"metric": sweep.objective.metric, "direction": direction},
        "pruning": sweep.pruning,
        "model_name": sweep.model_name,
        "seed": sweep.seed if sweep.seed is not None else base["training"]["seed"],
    }
    return normalised, c.warnings


def _kind(d: Dimension) -> dict[str, Any]:
    if d.values is not None:
        return {"values": d.values}
    if d.choices is not None:
        return {"choices": d.choices}
    return {"low": d.low, "high": d.high, "log": d.log}


def _check_base(c: _Checked, sweep: SweepSpec, settings: Settings) -> dict[str, Any] | None:
    try:  # as POST /v1/runs reads a spec: schema and semantic problems together, with hints
        spec, warnings = parse_spec(sweep.base, settings)
    except InvalidSpec as exc:
        for err in exc.errors:
            c.error("/base" + err.pointer, err.message, err.hint)
        return None
    c.warnings += [FieldError("/base" + w.pointer, w.message, w.hint) for w in warnings]
    # Defaults filled in, the user's own layer indices kept: space pointers refer to those.
    return spec.model_dump(mode="json")


def _check_method_and_budget(c: _Checked, sweep: SweepSpec, settings: Settings) -> None:
    if sweep.method not in METHODS:
        c.error(
            "/method",
            f"unknown method {sweep.method!r}",
            did_you_mean(sweep.method, METHODS)
            + f"use one of: {', '.join(METHODS)} (tpe is Optuna's model-based sampler)",
        )
    if sweep.parallel < 1:
        c.error("/parallel", f"parallel must be at least 1, not {sweep.parallel}", "use 1 or more")
    elif sweep.parallel > settings.max_sweep_parallel:
        c.error(
            "/parallel",
            f"{sweep.parallel} trials at once is over this service's cap of "
            f"{settings.max_sweep_parallel}",
            f"use at most {settings.max_sweep_parallel}",
        )
    if sweep.max_runs is not None and sweep.max_runs < 1:
        c.error("/max_runs", f"max_runs must be at least 1, not {sweep.max_runs}", "use 1 or more")
    elif sweep.max_runs is not None and sweep.max_runs > settings.max_sweep_runs:
        c.error(
            "/max_runs",
            f"{sweep.max_runs} runs is over this service's cap of {settings.max_sweep_runs}",
            f"use at most {settings.max_sweep_runs}",
        )
    if sweep.seed is not None and not 0 <= sweep.seed <= 2**31 - 1:
        c.error("/seed", f"seed {sweep.seed} is out of range", "use 0 .. 2147483647")


def _check_objective(c: _Checked, sweep: SweepSpec, base: dict[str, Any] | None) -> str | None:
    metric, direction = sweep.objective.metric, sweep.objective.direction
    if metric not in OBJECTIVE_METRICS:
        c.error(
            "/objective/metric",
            f"unknown objective metric {metric!r}",
            did_you_mean(metric, OBJECTIVE_METRICS) + f"use one of: {', '.join(OBJECTIVE_METRICS)}",
        )
        return None
    natural = "min" if metric.endswith("loss") else "max"
    if direction is None:
        direction = natural
    elif direction not in ("max", "min"):
        c.error("/objective/direction", f"unknown direction {direction!r}", 'use "max" or "min"')
        return None
    elif direction != natural:
        c.warnings.append(
            FieldError(
                "/objective/direction",
                f"{direction}imising {metric} looks for the worst trial",
                f'use "{natural}" to find the best one',
            )
        )
    if base is None:
        return direction
    training = base["training"]
    if metric.startswith("val_") and not training["validation_split"]:
        c.error(
            "/objective/metric",
            f"{metric} needs a validation split, and the base spec has validation_split 0",
            "set /base/training/validation_split to e.g. 0.1, or use a test_ metric",
        )
    if metric.endswith("accuracy") and "accuracy" not in training["metrics"]:
        c.error(
            "/objective/metric",
            "the base spec does not record accuracy",
            'add "accuracy" to /base/training/metrics, or optimise the loss',
        )
    if sweep.pruning and not training["validation_split"]:
        c.error(
            "/pruning",
            "the pruner compares per-epoch validation metrics, and the base spec has none",
            "set /base/training/validation_split to e.g. 0.1, or turn pruning off",
        )
    return direction


def _check_space(
    c: _Checked, sweep: SweepSpec, base: dict[str, Any] | None
) -> dict[str, Dimension] | None:
    if not sweep.space:
        c.error(
            "/space",
            "the search space is empty",
            'add e.g. "/training/optimizer/learning_rate": {"values": [0.001, 0.01]}',
        )
        return None
    return {
        key: dim
        for key, dim in sweep.space.items()
        if _check_dimension(c, sweep.method, key, dim, base)
    }


def _check_dimension(
    c: _Checked, method: str, key: str, dim: Dimension, base: dict[str, Any] | None
) -> bool:
    at = space_pointer(key)
    current: Any = None
    if base is not None or not key.startswith("/"):
        try:
            current = resolve(base, key)
        except BadPointer as exc:
            c.error(
                at,
                f"{key!r}: {exc}",
                "point at a field of the base spec, e.g. /training/optimizer/learning_rate "
                "or /model/layers/0/units (layer indices as written in base)",
            )
            return False
    kinds = [
        dim.values is not None,
        dim.choices is not None,
        dim.low is not None or dim.high is not None,
    ]
    if sum(kinds) != 1:
        c.error(
            at, "give exactly one of values, choices, or low and high", 'e.g. {"values": [16, 32]}'
        )
        return False
    listed = dim.values if dim.values is not None else dim.choices
    if listed is not None:
        name = "values" if dim.values is not None else "choices"
        if not listed:
            c.error(f"{at}/{name}", f"{name} is empty", "list at least one value")
            return False
        if len(listed) > MAX_VALUES:
            c.error(
                f"{at}/{name}",
                f"{len(listed)} values is over {MAX_VALUES}",
                f"list at most {MAX_VALUES}",
            )
            return False
        if len({repr(v) for v in listed}) != len(listed):
            c.error(f"{at}/{name}", f"{name} lists a value more than once", "list each value once")
            return False
        return True
    return _check_range(c, method, at, dim, current)


def _check_range(c: _Checked, method: str, at: str, dim: Dimension, current: Any) -> bool:
    if dim.low is None or dim.high is None:
        c.error(
            at, "a range needs both low and high", 'e.g. {"low": 0.0001, "high": 0.1, "log": true}'
        )
        return False
    if not (math.isfinite(dim.low) and math.isfinite(dim.high)) or dim.low >= dim.high:
        c.error(
            f"{at}/high",
            f"high ({dim.high:g}) must be above low ({dim.low:g})",
            "swap them or widen the range",
        )
        return False
    if dim.log and dim.low <= 0:
        c.error(
            f"{at}/low",
            f"a log range must start above 0, not at {dim.low:g}",
            "use e.g. low: 0.0001",
        )
        return False
    if method == "grid":
        c.error(
            at,
            "a grid needs a finite list of values, not a range",
            f'use {{"values": [{dim.low:g}, {dim.high:g}]}} or method "random"/"tpe"',
        )
        return False
    if isinstance(current, bool) or (not isinstance(current, int | float) and current is not None):
        c.error(
            at,
            f"a range replaces a number, but the base has {current!r} here",
            "use choices instead",
        )
        return False
    if isinstance(current, int) and not (dim.low.is_integer() and dim.high.is_integer()):
        c.error(
            at,
            "this field takes whole numbers",
            f"use low: {math.ceil(dim.low)}, high: {math.floor(dim.high)}",
        )
        return False
    return True


def candidates(dim: Dimension, current: Any) -> list[tuple[str, Any]]:
    """The values worth validating for one dimension, with their sub-pointer for errors."""
    if dim.values is not None:
        return [(f"values/{i}", v) for i, v in enumerate(dim.values)]
    if dim.choices is not None:
        return [(f"choices/{i}", v) for i, v in enumerate(dim.choices)]
    assert dim.low is not None and dim.high is not None
    if isinstance(current, int):
        return [("low", int(dim.low)), ("high", int(dim.high))]
    return [("low", dim.low), ("high", dim.high)]


def _check_trials(
    c: _Checked,
    base: dict[str, Any],
    dims: dict[str, Dimension],
    settings: Settings,
    combine: bool,
) -> None:
    axes: dict[str, list[tuple[str, Any]]] = {}
    failed = False
    for key, dim in dims.items():
        axis = candidates(dim, resolve(base, key))
        for sub, value in axis:
            problems = trial_errors(base, {key: value}, settings)
            for p in problems[:3]:
                failed = True
                c.error(
                    space_pointer(key, sub),
                    f"a trial with {value!r} here is invalid: {p.message}"
                    + (f" (at {p.pointer} of its run spec)" if p.pointer else ""),
                    p.hint or "remove this value or change the base spec",
                )
        axes[key] = axis
    if failed or not combine or len(axes) < 2:
        return
    # Each value is fine alone; some combinations may not be (a bigger kernel after a stride).
    for combo in itertools.islice(itertools.product(*axes.values()), MAX_COMBINATIONS_CHECKED):
        params = {key: value for key, (_, value) in zip(axes, combo, strict=True)}
        problems = trial_errors(base, params, settings)
        if problems:
            p = problems[0]
            c.error(
                "/space",
                f"the trial {params} is invalid: {p.message}"
                + (f" (at {p.pointer} of its run spec)" if p.pointer else ""),
                p.hint or "narrow the space so every combination is valid",
            )
            return


def grid_size(dims: dict[str, Dimension]) -> int:
    return math.prod(
        len(d.values if d.values is not None else d.choices or []) for d in dims.values()
    )


def _max_runs(
    c: _Checked, sweep: SweepSpec, dims: dict[str, Dimension] | None, settings: Settings
) -> int | None:
    if sweep.method != "grid" or dims is None:
        return sweep.max_runs or min(DEFAULT_RANDOM_RUNS, settings.max_sweep_runs)
    size = grid_size(dims)
    if size > settings.max_sweep_runs:
        c.error(
            "/space",
            f"the grid has {size} combinations, over this service's cap of {settings.max_sweep_runs} runs",
            'list fewer values, or use method "random" or "tpe" with max_runs',
        )
    elif sweep.max_runs is not None and sweep.max_runs < size:
        c.error(
            "/max_runs",
            f"the grid has {size} combinations but max_runs is {sweep.max_runs}",
            f'use max_runs {size} (or leave it out), or method "random" to sample {sweep.max_runs}',
        )
    return size
