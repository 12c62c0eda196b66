"""Training options trained for real: the example of each option in models/, and a run
using all of them that is killed mid-way and resumes exactly where it was."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.live import LiveService, load_example, module_service

# Seven (then two) short runs: each pays Keras' tracing, which is slow on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

OPTION_EXAMPLES = (
    "digits-early-stopping",
    "digits-lr-exponential",
    "digits-lr-cosine",
    "digits-lr-plateau",
    "digits-batchnorm",
    "digits-l2",
    "mnist-augmented",
)


# Fewer epochs than the examples have keep the suite fast; early stopping keeps its own.
SHORT: dict[str, dict[str, Any]] = {
    "digits-lr-exponential": {"epochs": 4},
    "digits-lr-cosine": {"epochs": 4},
    "digits-lr-plateau": {"epochs": 8},
    "digits-batchnorm": {"epochs": 2},
    "digits-l2": {"epochs": 2},
    "mnist-augmented": {"epochs": 1, "validation_split": 0.4},
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One service for both tests (a start costs ~17 s of CPU); neither leaves a run active."""
    with module_service(tmp_path_factory, "options", export_formats="") as service:
        yield service


def metrics(svc: LiveService, run_id: str) -> list[dict[str, Any]]:
    return [e["values"] for e in svc.http.get(f"/v1/runs/{run_id}/metrics").json()["epochs"]]


def test_each_option_example_trains(svc: LiveService) -> None:
    runs = {
        name: svc.submit(load_example(name, **SHORT.get(name, {})))["id"]
        for name in OPTION_EXAMPLES
    }
    done = {name: svc.wait_for(run_id) for name, run_id in runs.items()}
    for name, run in done.items():
        assert run["status"] == "succeeded", (name, run["failure_reason"])
        assert run["evaluation"]["accuracy"] > 0.6, (name, run["evaluation"])
        assert all("learning_rate" in m for m in metrics(svc, run["id"]))

    early = done["digits-early-stopping"]
    record = early["early_stopping"]
    assert record["monitor"] == "val_loss" and record["restored_best_weights"]
    assert record["stopped_epoch"] is not None and record["stopped_epoch"] < 40
    assert record["best_epoch"] <= record["stopped_epoch"] - 3  # patience 3
    assert len(metrics(svc, early["id"])) == record["stopped_epoch"]
    assert done["digits-l2"]["early_stopping"] is None

    rates = {name: [m["learning_rate"] for m in metrics(svc, runs[name])] for name in runs}
    assert rates["digits-lr-exponential"] == pytest.approx([0.01 * 0.5**e for e in range(4)])
    cosine = rates["digits-lr-cosine"]
    assert cosine[0] == pytest.approx(0.01) and cosine == sorted(cosine, reverse=True)
    assert cosine[-1] < 0.01 * 0.5
    plateau = rates["digits-lr-plateau"]
    assert plateau == sorted(plateau, reverse=True) and plateau[-1] < plateau[0]
    assert min(plateau) == pytest.approx(0.0001) or min(plateau) > 0.0001  # the floor
    assert rates["digits-l2"] == pytest.approx([0.01] * 2)
    warnings = {w["pointer"] for w in done["mnist-augmented"]["warnings"]}
    assert "/training/augmentation" not in warnings  # 28x28: no small-image warning


def everything(epochs: int) -> dict[str, Any]:
    spec = load_example("digits-batchnorm", epochs=epochs)
    spec["model"]["layers"][-1]["l2"] = 0.0005
    spec["training"].update(
        early_stopping={"monitor": "val_accuracy", "patience": 4, "restore_best_weights": True},
        lr_schedule={"type": "reduce_on_plateau", "patience": 1, "factor": 0.5},
        augmentation={"shift": 0.125, "rotation": 8, "zoom": 0.05},
    )
    return spec


def test_killed_run_with_every_option_resumes_exactly(svc: LiveService) -> None:
    straight = svc.wait_for(svc.submit(everything(9))["id"])
    assert straight["status"] == "succeeded", straight["failure_reason"]

    resumed_id = svc.submit(everything(9))["id"]
    svc.wait_for(resumed_id, {"running"}, min_epoch=3)
    (pid,) = svc.worker_pids()
    os.kill(pid, signal.SIGKILL)
    resumed = svc.wait_for(resumed_id)
    assert resumed["status"] == "succeeded" and resumed["attempts"] == 2

    a, b = metrics(svc, straight["id"]), metrics(svc, resumed_id)
    assert len(a) == len(b)
    for ea, eb in zip(a, b, strict=True):
        for key in ("loss", "val_loss", "val_accuracy", "learning_rate"):
            assert eb[key] == pytest.approx(ea[key], rel=1e-4, abs=1e-6), key
    assert resumed["early_stopping"] == straight["early_stopping"]
    assert resumed["evaluation"]["loss"] == pytest.approx(straight["evaluation"]["loss"], rel=1e-4)
    assert {w["pointer"] for w in straight["warnings"]} >= {"/training/augmentation"}
