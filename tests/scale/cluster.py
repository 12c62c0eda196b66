"""A scaled-out trainserve for tests: an API without workers and Celery "machines", sharing
only a fresh PostgreSQL database, a real broker (Redis or RabbitMQ) and S3 (moto over HTTP)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.db.session import read_session
from app.db.tables import RunEvent
from app.dispatch.celery_app import TASK, broker_queue, make_celery
from tests.fixtures.databases import postgres_database
from tests.fixtures.live import LiveService, free_port
from tests.fixtures.s3server import S3Server
from tests.scale.machines import Machine, wait_until

SHARED_REDIS = "redis://127.0.0.1:6379/11"
SHARED_RABBIT = "amqp://guest:guest@127.0.0.1:5672//"


@dataclass
class Cluster:
    root: Path
    database_url: str
    broker_url: str
    env: dict[str, str]
    queue: str
    machines: list[Machine] = field(default_factory=list)
    apis: list[LiveService] = field(default_factory=list)

    def start(self, *names: str) -> tuple[LiveService, list[Machine]]:
        """The API (which migrates the database) and the named machines, warm: the usual
        opening of a test."""
        api = self.api()
        machines = [self.machine(name) for name in names]
        for m in machines:
            m.wait_ready(self.database_url)
        return api, machines

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


def make_cluster(
    root: Path, s3: S3Server, s3_url: str, broker_url: str, **env: str
) -> Iterator[Cluster]:
    queue = f"q{uuid.uuid4().hex[:10]}"  # brokers are shared with other test runs
    with postgres_database() as db:
        settings = {
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
            **{f"TRAINSERVE_{k.upper()}": v for k, v in env.items()},
        }
        cluster = Cluster(root, db, broker_url, settings, queue)
        try:
            yield cluster
        finally:
            cluster.close()


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
