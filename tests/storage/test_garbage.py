"""The sweep deletes what a crash between object write and row commit leaves, and nothing a
row names; deleting a run removes its objects. On the embedded store (the data dir), a
separate file store and S3 over HTTP (moto's server), with a real SQLite database."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from app.db.session import write_session
from app.db.tables import Dataset, Run
from app.runs.service import create_run, delete_run
from app.settings import Settings
from app.storage import store_for
from app.storage.garbage import collect_garbage
from app.storage.runs import key_of, model_keys, publish, publish_artifact
from app.training import checkpoint, registry
from app.training.worker import Worker
from tests.fixtures.live import ROOT, load_example
from tests.fixtures.s3server import S3Server
from tests.scale.machines import wait_until


@pytest.fixture(params=["embedded", "file", "s3"])
def stored(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Settings:
    if request.param == "file":
        return settings.model_copy(update={"artifacts_url": f"file://{tmp_path / 'objects'}"})
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        url = f"s3://{server.new_bucket()}/artifacts"
        return settings.model_copy(update={"artifacts_url": url, "s3_endpoint_url": server.url})
    return settings


def new_run(settings: Settings, **row: object) -> str:
    run, _ = create_run(settings, load_example("zero-vs-one"))
    if row:
        with write_session(settings.resolved_database_url) as s:
            s.execute(update(Run).where(Run.id == run.id).values(**row))
    return run.id


def write_checkpoint(settings: Settings, run_id: str, epoch: int) -> str:
    """As a worker's epoch recorder does, before it commits the epoch's row."""
    path = checkpoint.write(settings.runs_dir / run_id, epoch, [np.zeros(3)])
    publish(settings, run_id, path)
    return key_of(run_id, path.name)


def write_model(settings: Settings, run_id: str, name: str, content: bytes) -> tuple[str, str]:
    """As a worker does once training ends, before it commits the run as succeeded."""
    path = settings.runs_dir / run_id / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    publish_artifact(settings, run_id, path, sha)
    (key,) = [k for k in model_keys(run_id, name, sha) if store_for(settings).exists(k)]
    return key, sha


def stored_keys(settings: Settings) -> set[str]:
    return {o.key for p in ("runs/", "datasets/") for o in store_for(settings).list(p)}


def test_the_sweep_removes_what_no_row_names_and_only_once_it_is_old(stored: Settings) -> None:
    s = stored
    # A finished run: its model and export are named; its last checkpoint is not any more.
    done = new_run(s, status="running")
    stale_checkpoint = write_checkpoint(s, done, 3)
    model, model_sha = write_model(s, done, "model.keras", b"the model")
    onnx, onnx_sha = write_model(s, done, "model.onnx", b"the onnx export")
    exports = {
        "onnx": {"status": "available", "sha256": onnx_sha},
        "tflite": {"status": "unavailable", "reason": "test"},
    }
    new_run(s)  # a run with nothing stored yet
    with write_session(s.resolved_database_url) as session:
        session.execute(
            update(Run)
            .where(Run.id == done)
            .values(status="succeeded", artifact_sha256=model_sha, exports=exports)
        )
    # A running run whose worker died: after the row named checkpoint 2 (and the one before
    # was superseded), it wrote checkpoint 3 and (in another attempt's tail) a model, and
    # committed neither. Checkpoint 3 stays while the run is active: the attempt that takes
    # the run over writes and commits that very key.
    crashed = new_run(s, status="running", checkpoint_epoch=2)
    superseded = write_checkpoint(s, crashed, 1)
    resume_point = write_checkpoint(s, crashed, 2)
    ahead = write_checkpoint(s, crashed, 3)
    orphan_model, _ = write_model(s, crashed, "model.keras", b"never committed")
    # A run deleted while the store was down (its row is gone, its objects are not).
    gone = new_run(s, status="running")
    gone_model, _ = write_model(s, gone, "model.keras", b"deleted run")
    with write_session(s.resolved_database_url) as session:
        session.delete(session.get(Run, gone))
    # An uploaded dataset with its row, and one whose upload died before its row.
    store = store_for(s)
    for key in ("1.npz", "1.png", "2.npz", "2.png"):  # 1: named (with its preview), 2: not
        store.put_bytes(f"datasets/uploads/pets/{key}", key.encode())
    with write_session(s.resolved_database_url) as session:
        session.add(_dataset("pets", 1, "datasets/uploads/pets/1.npz"))

    pets = "datasets/uploads/pets"
    named = {model, onnx, resume_point, ahead, f"{pets}/1.npz", f"{pets}/1.png"}
    garbage = {
        stale_checkpoint,
        superseded,
        orphan_model,
        gone_model,
        f"{pets}/2.npz",
        f"{pets}/2.png",
    }
    assert named | garbage <= stored_keys(s)

    young = collect_garbage(s, grace_seconds=3600)  # everything was just written
    assert young.garbage == [] and named | garbage <= stored_keys(s)

    dry = collect_garbage(s, grace_seconds=0, dry_run=True)
    assert {o.key for o in dry.garbage} == garbage
    assert named | garbage <= stored_keys(s)

    swept = collect_garbage(s, grace_seconds=0)
    assert {o.key for o in swept.garbage} == garbage
    left = stored_keys(s)
    assert named <= left and not garbage & left

    # Once the run ends, none of its checkpoints resumes anything.
    with write_session(s.resolved_database_url) as session:
        session.execute(update(Run).where(Run.id == crashed).values(status="failed"))
    swept = collect_garbage(s, grace_seconds=0)
    assert {o.key for o in swept.garbage} == {resume_point, ahead}

    # Deleting a run removes its objects (and the local working copy).
    delete_run(s, done)
    assert not any(k.startswith(f"runs/{done}/") for k in stored_keys(s))
    assert not (s.runs_dir / done).exists()


def test_trainserve_gc_dry_run_lists_and_deletes_nothing(settings: Settings) -> None:
    run_id = new_run(settings, status="failed")
    key = write_checkpoint(settings, run_id, 1)  # a failed run never resumes
    env = {
        **os.environ,
        "TRAINSERVE_DATA_DIR": str(settings.data_dir),
        "TRAINSERVE_DATABASE_URL": settings.database_url,
    }
    dry = subprocess.run(
        [sys.executable, "-m", "app.cli", "gc", "--grace", "0", "--dry-run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"would delete {key}" in dry.stdout and "would delete 1 objects" in dry.stdout
    assert store_for(settings).exists(key)


def test_the_longest_registered_live_worker_sweeps_on_its_interval(settings: Settings) -> None:
    s = settings.model_copy(update={"gc_interval_seconds": 0.1, "gc_grace_seconds": 0})
    run_id = new_run(s, status="running", checkpoint_epoch=2)
    named, orphan = write_checkpoint(s, run_id, 2), write_checkpoint(s, run_id, 1)
    first, second = Worker(s), Worker(s)
    first.start()
    second.start()
    try:
        assert registry.leader(s.resolved_database_url, 60) == first.worker_id
        wait_until(lambda: not store_for(s).exists(orphan), 20)  # at its first heartbeat
        assert store_for(s).exists(named)
        assert second._sweeping is None  # it is not the leader: it never listed the store
    finally:
        first.stop()
        second.stop()


def _dataset(name: str, version: int, key: str) -> Dataset:
    return Dataset(
        name=name,
        version=version,
        format="npz",
        options={},
        shape=[28, 28],
        dtype="uint8",
        classes=[0, 1],
        class_counts={"0": 1, "1": 1},
        num_examples=2,
        sha256="0" * 64,
        bytes=5,
        storage_key=key,
    )
