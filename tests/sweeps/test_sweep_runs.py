"""Sweeps trained for real: trials run as ordinary runs in worker processes; the best is
picked by the objective; hopeless trials are pruned; cancel and restarts behave."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.live import FINISHED, LiveService
from tests.sweeps.specs import digits_base, grid_sweep
from tests.test_cli import cli, url_of, write_spec


def submit_sweep(svc: LiveService, body: dict[str, Any]) -> dict[str, Any]:
    resp = svc.http.post("/v1/sweeps", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()


def sweep(svc: LiveService, sweep_id: str) -> dict[str, Any]:
    resp = svc.http.get(f"/v1/sweeps/{sweep_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_sweep(
    svc: LiveService,
    sweep_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda s: s["status"] != "running",
    timeout: float = 300,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = sweep(svc, sweep_id)
        if until(current):
            return current
        time.sleep(0.2)
    raise TimeoutError(f"sweep {sweep_id}: {current}\n{svc.logs()[-3000:]}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_grid_on_digits_picks_the_best_and_names_it(
    live: Callable[..., LiveService], tmp_path: Path
) -> None:
    svc = live(workers=1, export_formats="")
    body = grid_sweep(epochs=2, model_name="digits-best")
    proc = cli(url_of(svc), "sweep", str(write_spec(tmp_path, body)), "--watch")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep_id = re.search(r"sweep ([0-9a-f]{22})", proc.stdout).group(1)  # type: ignore[union-attr]
    done = sweep(svc, sweep_id)
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    rows = [line for line in lines if re.match(r"^\d+\s+[0-9a-f]{22}", line)]
    assert len(rows) == 6 and sum(line.endswith(" *") for line in rows) == 1, proc.stdout
    assert f"best {done['best']['run_id']}" in proc.stdout

    assert done["status"] == "succeeded", done
    trials = done["trials"]
    assert len(trials) == 6 and {t["status"] for t in trials} == {"succeeded"}
    assert len({tuple(sorted(t["params"].items())) for t in trials}) == 6  # the whole grid
    scores = {}
    for t in trials:
        run = svc.run(t["run_id"])
        assert run["sweep_id"] == done["id"]
        scores[t["run_id"]] = run["metrics"]["val_accuracy"]
        assert t["objective"] == pytest.approx(scores[t["run_id"]])
    best = max(scores, key=scores.__getitem__)
    assert done["best"]["run_id"] == best
    assert done["best"]["params"]["/training/optimizer/learning_rate"] != 0.00001
    assert svc.http.get("/v1/models/digits-best").json()["run_id"] == best

    put = svc.http.put("/v1/models/chosen", json={"sweep_id": done["id"]})
    assert put.status_code == 201 and put.json()["run_id"] == best


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_random_sweep_prunes_a_hopeless_trial(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, export_formats="")
    body = {
        "name": "digits-prune",
        "base": digits_base(epochs=6),
        "space": {"/training/optimizer/learning_rate": {"values": [0.01, 0.003, 0.000001]}},
        "method": "random",
        "max_runs": 3,
        "seed": 0,  # draws 0.003, 0.003, then 1e-06: two good trials finish before the bad one
        "pruning": True,
    }
    done = wait_sweep(svc, submit_sweep(svc, body)["id"])
    first, second, bad = done["trials"]
    assert bad["params"] == {"/training/optimizer/learning_rate": 0.000001}
    assert first["status"] == second["status"] == "succeeded"
    assert bad["status"] == "cancelled" and bad["pruned"], bad
    assert bad["failure_reason"].startswith("pruned: val_accuracy")
    assert bad["progress"]["epoch"] < 6  # stopped early, not after its last epoch
    assert done["status"] == "succeeded" and done["best"]["run_id"] in (
        first["run_id"],
        second["run_id"],
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cancel_mid_way_leaves_no_active_trial(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, export_formats="")
    body = grid_sweep(epochs=50, parallel=2)
    sweep_id = submit_sweep(svc, body)["id"]
    wait_sweep(svc, sweep_id, lambda s: s["trials"][0]["progress"]["epoch"] >= 1)
    resp = svc.http.post(f"/v1/sweeps/{sweep_id}/cancel")
    assert resp.status_code == 202 and resp.json()["status"] == "cancelled"

    done = wait_sweep(svc, sweep_id, lambda s: all(t["status"] in FINISHED for t in s["trials"]))
    assert {t["status"] for t in done["trials"]} == {"cancelled"}
    assert len(done["trials"]) == 2  # nothing queued after the cancel
    time.sleep(2.5)  # a worker poll later, still nothing new
    assert len(sweep(svc, sweep_id)["trials"]) == 2
    assert svc.http.get("/v1/runs", params={"status": "queued"}).json()["items"] == []
    assert svc.http.delete(f"/v1/sweeps/{sweep_id}").status_code == 204
    assert svc.http.get("/v1/runs").json()["items"] == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_restart_mid_sweep_continues_it(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, export_formats="")
    body = grid_sweep(epochs=2, parallel=1)
    body["space"] = {"/model/layers/0/units": {"values": [8, 16, 32]}}
    sweep_id = submit_sweep(svc, body)["id"]
    wait_sweep(svc, sweep_id, lambda s: s["counts"].get("succeeded", 0) >= 1)
    svc.stop(signal.SIGKILL)

    again = live(workers=1, data_dir=svc.data_dir, export_formats="")
    done = wait_sweep(again, sweep_id)
    assert done["status"] == "succeeded"
    assert [t["params"]["/model/layers/0/units"] for t in done["trials"]] == [8, 16, 32]
    assert {t["status"] for t in done["trials"]} == {"succeeded"}
    for t in done["trials"]:
        assert again.epochs(t["run_id"]) == [1, 2]


def test_cli_shows_every_mistake_of_a_bad_sweep(
    live: Callable[..., LiveService], tmp_path: Path
) -> None:
    svc = live(workers=0)
    body = grid_sweep(method="annealing", parallel=0)
    body["space"]["/model/layers/3/units"] = {"values": [1]}
    proc = cli(url_of(svc), "sweep", str(write_spec(tmp_path, body)))
    assert proc.returncode == 2
    for pointer in ("/method", "/parallel", "/space/~1model~1layers~13~1units"):
        assert pointer in proc.stderr, proc.stderr
    assert svc.http.get("/v1/sweeps").json()["items"] == []
