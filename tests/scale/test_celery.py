"""Celery dispatch across "machines": worker processes with their own hostname and data dir,
sharing only PostgreSQL, a real broker (Redis or RabbitMQ) and S3 (moto over HTTP)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.session import read_session
from app.db.tables import EpochMetric, RunEvent
from app.dispatch.celery_app import TASK, broker_queue, make_celery
from tests.fixtures.databases import postgres_database
from tests.fixtures.live import LiveService, free_port, load_example
from tests.fixtures.s3server import S3Server
from tests.scale.machines import Machine, holder, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(900)]

SHARED_REDIS = "redis://127.0.0.1:6379/11"
SHARED_RABBIT = "amqp://guest:guest@127.0.0.1:5672//"


def digits_spec(epochs: int, dataset: str = "digits") -> dict[str, object]:
    spec = load_example("digits-relu", epochs=epochs)
    spec["dataset"] = {"name": dataset, "test_fraction": 0.2}
    return spec


@dataclass
class Cluster:
    root: Path
    database_url: str
    broker_url: str
    env: dict[str, str]
    queue: str
    machines: list[Machine] = field(default_factory=list)
    apis: list[LiveService] = field(default_factory=list)

    def machine(self, name: str) -> Machine:
        m = Machine(name, self.root, self.env).start()
        self.machines.append(m)
        return m

    def api(self, name: str = "api") -> LiveService:
        env = {k.removeprefix("TRAINSERVE_").lower(): v for k, v in self.env.items()}
        env.pop("database_url")
        svc = LiveService(self.root / name, self.database_url, workers=0, **env).start()
        self.apis.append(svc)
        return svc

    def send_again(self, run_id: str) -> None:
        """Deliver the "train run X" message once more, as a broker redelivery would."""
        make_celery(self.broker_url).send_task(TASK, args=[run_id], queue=broker_queue(self.queue))

    def status_events(self, run_id: str) -> list[str]:
        with read_session(self.database_url) as s:
            rows = s.scalars(
                select(RunEvent.data).where(RunEvent.run_id == run_id, RunEvent.type == "status")
            )
            return [r["status"] for r in rows]

    def close(self) -> None:
        for m in self.machines:
            m.stop()
        for a in self.apis:
            a.stop()


def make_cluster(root: Path, s3: S3Server, s3_url: str, broker_url: str) -> Iterator[Cluster]:
    queue = f"q{uuid.uuid4().hex[:10]}"  # brokers are shared with other test runs
    with postgres_database() as db:
        env = {
            "TRAINSERVE_DATABASE_URL": db,
            "TRAINSERVE_QUEUE": "celery",
            "TRAINSERVE_BROKER_URL": broker_url,
            "TRAINSERVE_QUEUES": f"{queue},{queue}-gpu",
            "TRAINSERVE_WORKER_QUEUES": queue,
            "TRAINSERVE_ARTIFACTS_URL": s3_url,
            "TRAINSERVE_S3_ENDPOINT_URL": s3.url,
            # Generous: on a loaded 2-core machine a lease thread can starve for seconds.
            "TRAINSERVE_LEASE_SECONDS": "8",
            "TRAINSERVE_REDISPATCH_SECONDS": "2",
            "TRAINSERVE_TF_THREADS": "1",
            "TRAINSERVE_API_KEY": "",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        cluster = Cluster(root, db, broker_url, env, queue)
        try:
            yield cluster
        finally:
            cluster.close()


@pytest.fixture
def redis_cluster(tmp_path: Path, s3_server: S3Server, s3_url: str) -> Iterator[Cluster]:
    yield from make_cluster(tmp_path, s3_server, s3_url, SHARED_REDIS)


@pytest.fixture
def rabbit_cluster(tmp_path: Path, s3_server: S3Server, s3_url: str) -> Iterator[Cluster]:
    yield from make_cluster(tmp_path, s3_server, s3_url, SHARED_RABBIT)


class OwnRedis:
    """A redis-server of this test's own, so stopping it disturbs nobody else."""

    def __init__(self, root: Path) -> None:
        self.port, self.root = free_port(), root
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=(self.root / f"redis-{self.port}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        import redis

        wait_until(lambda: _pings(redis.Redis(port=self.port)), 20)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # no persistence: every message it held is gone
            self.proc.wait(10)
            self.proc = None


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def test_stopped_or_killed_machine_resumes_on_the_other_and_cancel_reaches_it(
    redis_cluster: Cluster,
) -> None:
    c = redis_cluster
    api = c.api()  # migrates the database
    a, b = c.machine("machine-a"), c.machine("machine-b")
    a.wait_ready(c.database_url)
    b.wait_ready(c.database_url)

    # SIGTERM (a rolling restart, `docker stop`): the run goes back to the queue without
    # using up an attempt, and resumes on the other machine from its stored checkpoint.
    handed = api.submit(digits_spec(epochs=8, dataset="mnist-5k"))["id"]
    api.wait_for(handed, {"running"}, min_epoch=2)
    stopped, other = (a, b) if holder(c.database_url, handed) == "machine-a" else (b, a)
    kept = epoch_rows(c.database_url, handed)  # each covered by the checkpoint it resumes from
    stopped.terminate()  # returns once the Celery worker has exited
    wait_until(lambda: holder(c.database_url, handed) == other.name, 60, other.logs)
    restarted = c.machine(stopped.name)  # warms up while the other machine trains
    done = api.wait_for(handed)
    assert done["status"] == "succeeded", done["failure_reason"]
    assert done["attempts"] == 1  # a hand-back is not an attempt
    assert api.epochs(handed) == list(range(1, 9))
    rows = epoch_rows(c.database_url, handed)
    assert {e: rows[e] for e in kept} == kept  # resumed after them, not retrained
    assert c.status_events(handed) == ["queued", "running", "queued", "running", "succeeded"]

    # kill -9 of a whole machine: the lease runs out, the run resumes on the other machine.
    restarted.wait_ready(c.database_url)
    a, b = restarted, other
    run_id = api.submit(digits_spec(epochs=8, dataset="mnist-5k"))["id"]
    api.wait_for(run_id, {"running"}, min_epoch=2)
    first = holder(c.database_url, run_id)
    victim, survivor = (a, b) if first == a.name else (b, a)
    victim.kill()

    done = api.wait_for(run_id)
    assert done["status"] == "succeeded", done["failure_reason"]
    assert done["attempts"] == 2
    assert api.epochs(run_id) == list(range(1, 9))  # each epoch recorded once
    assert c.status_events(run_id).count("succeeded") == 1
    # The API has an empty data dir: it serves the model the survivor stored in S3.
    answer = api.http.post(
        f"/v1/runs/{run_id}/predict", json={"instances": [[0.0] * 784]}, timeout=240
    )
    assert answer.status_code == 200, answer.text

    long = api.submit(digits_spec(epochs=200))["id"]
    api.wait_for(long, {"running"}, min_epoch=1)
    assert holder(c.database_url, long) == survivor.name
    asked = time.monotonic()
    assert api.http.post(f"/v1/runs/{long}/cancel").status_code in (200, 202)
    cancelled = api.wait_for(long, timeout=30)
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - asked < 10


def epoch_rows(database_url: str, run_id: str) -> dict[int, int]:
    """{epoch: id of its metrics row}: a retrained epoch gets a new row."""
    with read_session(database_url) as s:
        rows = s.execute(
            select(EpochMetric.epoch, EpochMetric.id).where(EpochMetric.run_id == run_id)
        )
        return {int(epoch): int(row_id) for epoch, row_id in rows.tuples()}


def test_broker_down_at_submit_and_restarted_mid_run_loses_nothing(
    tmp_path: Path, s3_server: S3Server, s3_url: str
) -> None:
    redis = OwnRedis(tmp_path).start()
    try:
        for c in make_cluster(tmp_path, s3_server, s3_url, redis.url):
            api = c.api()  # migrates the database
            c.machine("machine-a").wait_ready(c.database_url)
            redis.stop()
            ready = api.http.get("/readyz")
            assert ready.status_code == 503 and "broker" in ready.json()["detail"]
            accepted = api.submit(digits_spec(epochs=3))["id"]  # 202 while the broker is down
            assert api.run(accepted)["status"] == "queued"
            redis.start()
            done = api.wait_for(accepted, timeout=180)
            assert done["status"] == "succeeded" and done["attempts"] == 1

            running = api.submit(digits_spec(epochs=6, dataset="mnist-5k"))["id"]
            waiting = api.submit(digits_spec(epochs=2))["id"]  # its message dies with Redis
            api.wait_for(running, {"running"}, min_epoch=1)
            redis.stop()
            redis.start()
            for run_id in (running, waiting):
                final = api.wait_for(run_id, timeout=240)
                assert final["status"] == "succeeded", final["failure_reason"]
                assert final["attempts"] == 1
            c.send_again(accepted)  # a late duplicate of a finished run's message
            time.sleep(3)
            assert api.run(accepted)["attempts"] == 1
    finally:
        redis.stop()


def test_four_runs_on_two_machines_two_at_a_time_duplicates_ignored(
    rabbit_cluster: Cluster,
) -> None:
    c = rabbit_cluster
    api = c.api()  # migrates the database
    a, b = c.machine("machine-a"), c.machine("machine-b")
    a.wait_ready(c.database_url)
    b.wait_ready(c.database_url)
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
