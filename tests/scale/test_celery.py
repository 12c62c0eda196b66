"""Celery dispatch across "machines": worker processes with their own hostname and data dir,
sharing only PostgreSQL, a real broker (Redis or RabbitMQ) and S3 (moto over HTTP).

Most tests share one cluster (an API without workers, two machines, a Redis of its own so
that it can be killed): each starts by bringing back whatever the previous one stopped.
The durability scenarios are the ones tests/training/test_durability.py runs on the
embedded default (tests/fixtures/durability.py).
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.session import read_session
from app.db.tables import EpochMetric
from tests.fixtures import durability
from tests.fixtures.live import load_example
from tests.fixtures.s3server import S3Server
from tests.scale.cluster import SHARED_RABBIT, Cluster, OwnRedis, make_cluster
from tests.scale.machines import Machine, holder, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(900)]

MACHINES = ("machine-a", "machine-b")


def digits_spec(epochs: int, dataset: str = "digits") -> dict[str, object]:
    spec = load_example("digits-relu", epochs=epochs)
    spec["dataset"] = {"name": dataset, "test_fraction": 0.2}
    return spec


class Scaled:
    """The scaled-out deployment (tests/fixtures/durability.py's ``Deployment``): a machine
    crashed or stopped is replaced by a new process with the same name and data dir, which
    warms up while the other machine trains."""

    max_attempts = 3  # the default: a lease lost to a starved heartbeat must not fail a run

    def __init__(self, cluster: Cluster, redis: OwnRedis, s3: S3Server, bucket: str) -> None:
        self.c, self.redis, self.s3, self.bucket = cluster, redis, s3, bucket
        self.api, machines = cluster.start(*MACHINES)
        self.machines = {m.name: m for m in machines}
        self.kept: dict[str, dict[int, int]] = {}  # epoch rows a hand-back must keep
        self.crashed: list[str] = []  # machines killed, in order

    def ready(self) -> Scaled:
        """Every part up, every machine warm (after a test that stopped some)."""
        if self.redis.proc is None:
            self.redis.start()
        if self.api.proc is None:
            self.api = self.c.api()
        for name in MACHINES:
            if self.machines[name].proc is None:
                self._replace(name)
        for m in self.machines.values():
            wait_until(lambda m=m: m.worker_ids(self.c.database_url), 240, m.logs)
        return self

    def _replace(self, name: str) -> Machine:
        self.machines[name] = self.c.machine(name)
        return self.machines[name]

    def run_keys(self, run_id: str) -> set[str]:
        listed = self.s3.client().list_objects_v2(
            Bucket=self.bucket, Prefix=f"artifacts/runs/{run_id}/"
        )
        return {o["Key"] for o in listed.get("Contents", [])}

    def holder(self, run_id: str) -> Machine:
        return self.machines[wait_until(lambda: holder(self.c.database_url, run_id), 60)]

    def crash_worker(self, run_id: str) -> None:
        victim = self.holder(run_id)
        victim.kill()
        self.crashed.append(victim.name)
        self._replace(victim.name)

    def hand_back(self, run_id: str) -> None:
        stopped = self.holder(run_id)
        self.kept[run_id] = epoch_rows(self.c.database_url, run_id)
        stopped.terminate()  # returns once the Celery worker has exited
        self._replace(stopped.name)

    def kill_everything(self) -> None:
        self.api.stop(signal.SIGKILL)
        for m in self.machines.values():
            m.kill()
        self.redis.stop()  # no persistence: the broker's messages die with it

    def restart(self) -> None:
        self.redis.start()
        self.api = self.c.api()
        for name in MACHINES:
            self._replace(name)


@pytest.fixture(scope="module")
def scaled_module(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server
) -> Iterator[Scaled]:
    root = tmp_path_factory.mktemp("scaled")
    redis = OwnRedis(root).start()
    bucket = s3_server.new_bucket()
    try:
        for cluster in make_cluster(
            root,
            s3_server,
            f"s3://{bucket}/artifacts",
            redis.url,
            max_attempts=str(Scaled.max_attempts),
        ):
            yield Scaled(cluster, redis, s3_server, bucket)
    finally:
        redis.stop()


@pytest.fixture
def scaled(scaled_module: Scaled) -> Scaled:
    return scaled_module.ready()


def epoch_rows(database_url: str, run_id: str) -> dict[int, int]:
    """{epoch: id of its metrics row}: a retrained epoch gets a new row."""
    with read_session(database_url) as s:
        rows = s.execute(
            select(EpochMetric.epoch, EpochMetric.id).where(EpochMetric.run_id == run_id)
        )
        return {int(epoch): int(row_id) for epoch, row_id in rows.tuples()}


def test_sigterm_hands_the_run_to_the_other_machine(scaled: Scaled) -> None:
    """A rolling restart (`docker stop`): the run goes back to the queue without using up an
    attempt and resumes on the other machine from its stored checkpoint."""
    run_id = durability.sigterm_hands_the_run_back_and_it_resumes(scaled)
    rows = epoch_rows(scaled.c.database_url, run_id)
    kept = scaled.kept[run_id]
    assert {e: rows[e] for e in kept} == kept  # resumed after them, not retrained
    assert scaled.c.status_events(run_id) == ["queued", "running", "queued", "running", "succeeded"]


def test_killed_machine_resumes_on_the_other_and_an_empty_api_serves_it(scaled: Scaled) -> None:
    done = durability.killed_worker_resumes_from_its_checkpoint(scaled)
    run_id, sha = done["id"], done["artifact"]["sha256"]
    # Content-addressed, and nothing but the finished run's files: the trainer dropped each
    # checkpoint once the next was named, and the last once it finished.
    keys = scaled.run_keys(run_id)
    assert f"artifacts/runs/{run_id}/model-{sha}.keras" in keys
    assert not [k for k in keys if "checkpoint" in k], keys
    (survivor,) = set(MACHINES) - {scaled.crashed[-1]}
    assert not (scaled.machines[survivor].data_dir / "runs" / run_id).exists()  # a cache

    # The API has an empty data dir: it serves the model the survivor stored in S3.
    api = scaled.api
    answer = api.http.post(
        f"/v1/runs/{run_id}/predict", json={"instances": [[0.0] * 784]}, timeout=240
    )
    assert answer.status_code == 200, answer.text
    model = api.http.get(f"/v1/runs/{run_id}/model")
    assert model.status_code == 200
    assert hashlib.sha256(model.content).hexdigest() == sha
    assert api.http.delete(f"/v1/runs/{run_id}").status_code == 204
    assert scaled.run_keys(run_id) == set()


def test_run_crashing_its_workers_fails_after_max_attempts(scaled: Scaled) -> None:
    durability.run_fails_after_max_attempts(scaled)


def test_whole_service_killed_with_its_broker_loses_nothing(scaled: Scaled) -> None:
    durability.whole_service_killed_loses_nothing(scaled)


def test_cancel_reaches_a_run_on_another_machine(scaled: Scaled) -> None:
    api = scaled.api  # a process of its own, without workers
    long = api.submit(digits_spec(epochs=200))["id"]
    api.wait_for(long, {"running"}, min_epoch=1)
    asked = time.monotonic()
    assert api.http.post(f"/v1/runs/{long}/cancel").status_code in (200, 202)
    cancelled = api.wait_for(long, timeout=30)
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - asked < 10


def test_broker_down_at_submit_and_restarted_mid_run_loses_nothing(scaled: Scaled) -> None:
    api, redis = scaled.api, scaled.redis
    redis.stop()
    ready = api.http.get("/readyz")
    assert ready.status_code == 503 and "broker" in ready.json()["detail"]
    accepted = api.submit(digits_spec(epochs=3))["id"]  # 202 while the broker is down
    assert api.run(accepted)["status"] == "queued"
    redis.start()
    done = api.wait_for(accepted, timeout=180)
    assert done["status"] == "succeeded" and done["attempts"] == 1

    running = api.submit(digits_spec(epochs=6, dataset="mnist-5k"))["id"]
    waiting = api.submit(digits_spec(epochs=2))["id"]  # its message may die with Redis
    api.wait_for(running, {"running"}, min_epoch=1)
    redis.stop()
    redis.start()
    for run_id in (running, waiting):
        final = api.wait_for(run_id, timeout=240)
        assert final["status"] == "succeeded", final["failure_reason"]
        assert final["attempts"] == 1
    scaled.c.send_again(accepted)  # a late duplicate of a finished run's message
    time.sleep(3)
    assert api.run(accepted)["attempts"] == 1


@pytest.fixture
def rabbit_cluster(tmp_path: Path, s3_server: S3Server, s3_url: str) -> Iterator[Cluster]:
    yield from make_cluster(tmp_path, s3_server, s3_url, SHARED_RABBIT)


def test_four_runs_on_two_machines_two_at_a_time_duplicates_ignored(
    rabbit_cluster: Cluster,
) -> None:
    c = rabbit_cluster
    api, _ = c.start(*MACHINES)
    runs = [api.submit(digits_spec(epochs=3))["id"] for _ in range(4)]
    for run_id in runs:
        c.send_again(run_id)  # every message delivered twice
    finals = [api.wait_for(run_id, timeout=300) for run_id in runs]
    assert [f["status"] for f in finals] == ["succeeded"] * 4
    assert [f["attempts"] for f in finals] == [1] * 4
    for run_id in runs:
        assert api.epochs(run_id) == [1, 2, 3]
    spans = [(f["started_at"], f["finished_at"]) for f in finals]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # both machines busy at once, neither ever trains two
