"""The sampling and pruning decisions, fed from stored trials as the driver feeds them."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings
from app.sweeps.sampler import PastTrial, grid_point, next_params, should_prune
from app.sweeps.spec import SweepSpec
from app.sweeps.validation import check_sweep
from tests.sweeps.specs import digits_base, grid_sweep


def normalised(body: dict, tmp_path: Path) -> dict:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    spec, _ = check_sweep(SweepSpec.model_validate(body), settings)
    return spec


def test_grid_walks_every_combination_in_order(tmp_path: Path) -> None:
    spec = normalised(grid_sweep(), tmp_path)
    points = [grid_point(spec, n) for n in range(7)]
    assert points[6] is None
    assert [tuple(p.values()) for p in points[:6]] == [
        (8, 0.00001),
        (8, 0.003),
        (8, 0.03),
        (32, 0.00001),
        (32, 0.003),
        (32, 0.03),
    ]


def test_random_and_tpe_are_reproducible_and_stay_in_the_space(tmp_path: Path) -> None:
    body = {
        "base": digits_base(),
        "space": {
            "/training/optimizer/learning_rate": {"low": 0.0001, "high": 0.1, "log": True},
            "/model/layers/0/units": {"low": 4, "high": 64},
            "/model/layers/0/activation": {"choices": ["relu", "tanh"]},
        },
        "max_runs": 8,
    }
    for method in ("random", "tpe"):
        spec = normalised({**body, "method": method}, tmp_path)
        trials: list[PastTrial] = []
        for n in range(8):
            params = next_params(spec, trials)
            assert params == next_params(spec, trials)  # a restart asks again: same answer
            assert 0.0001 <= params["/training/optimizer/learning_rate"] <= 0.1
            assert isinstance(params["/model/layers/0/units"], int)
            assert params["/model/layers/0/activation"] in ("relu", "tanh")
            trials.append(PastTrial(params, "complete", n / 10, {}))
        assert len({p.params["/model/layers/0/units"] for p in trials}) > 1


def test_median_pruner_needs_two_finished_trials_and_a_second_epoch(tmp_path: Path) -> None:
    spec = normalised(grid_sweep(pruning=True), tmp_path)
    params = grid_point(spec, 0)
    good = PastTrial(params, "complete", 0.9, {1: 0.7, 2: 0.8, 3: 0.9})
    bad_so_far = {1: 0.1, 2: 0.1}
    assert not should_prune(spec, [good], PastTrial(params, "running", None, bad_so_far))
    assert should_prune(spec, [good, good], PastTrial(params, "running", None, bad_so_far))
    assert not should_prune(spec, [good, good], PastTrial(params, "running", None, {1: 0.1}))
    fine = {1: 0.75, 2: 0.85}
    assert not should_prune(spec, [good, good], PastTrial(params, "running", None, fine))
