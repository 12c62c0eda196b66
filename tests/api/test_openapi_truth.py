"""/openapi.json tells the truth: schemathesis `--checks all` against a real server, with the
API key off and on, finds nothing but the deliberate exceptions named below, each with why.

Clients are generated from the document (Postman, openapi-generator), so an answer it does
not describe, a constraint it does not state, or a header it wrongly requires is a bug in
every generated client. The CLI is run as a user would run it, over real HTTP, against one
server per configuration. Every operation is tested in both: without a key, the examples,
coverage and fuzzing phases; with a key, the examples and coverage phases (where
schemathesis tries missing and wrong keys on every operation; fuzzing bodies again with a
key finds nothing new). Generation is deterministic (the same cases every run, so this test
cannot flake), 10 fuzzed cases per operation, no shrinking (a finding is printed as found).
Finished runs made without training give the run operations real ids to answer 200 for. The
stateful phase needs trained runs and is left out.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.enums import RunStatus
from tests.fixtures.databases import make_settings
from tests.fixtures.live import LiveService
from tests.fixtures.runs import finished_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# (operation, schemathesis check code) -> why the failure is the server being right.
DELIBERATE: dict[tuple[str, str], str] = {
    ("POST /v1/runs", "ST202"): "a schema-valid spec can still be wrong for a network (layer "
    "shapes that do not fit, output units that do not match the classes, a loss the output "
    "cannot feed): semantic checks a JSON Schema cannot express; each 422 names its pointer",
    ("POST /v1/runs/validate", "ST202"): "the same semantic spec checks as POST /v1/runs",
    ("POST /v1/runs", "ST101"): "503 when the spec names `mnist` and it cannot be downloaded "
    "(documented; this test points its download at a closed port)",
    ("GET /readyz", "ST101"): "503 is /readyz's job while no worker is alive (documented); "
    "this server runs none",
    ("GET /v1/runs", "ST202"): "a cursor is opaque: only values this service handed out are "
    "valid, and a made-up one is a 400 naming it",
    ("POST /v1/runs/{run_id}/predict", "ST202"): "instances are images whose size depends on "
    "the run's dataset, and uploads must decode as PNG/JPEG: checked per model, not by schema",
    ("POST /v1/models/{name}/predict", "ST202"): "as for predict by run id",
    ("POST /v2/models/{name}/infer", "ST202"): "tensor shapes and datatypes depend on the model",
    ("POST /v1/datasets", "ST202"): "an upload is read by parsing it (npz arrays, CSV columns, "
    "class folders, IDX headers); a schema can only say `binary`, and a file that is not a "
    "dataset is a 422 naming what is wrong with it",
    ("POST /v1/sweeps", "ST202"): "a schema-valid sweep can still be wrong: a pointer that is "
    "not in its base spec, a range for a field that takes a list, a base spec that fails the "
    "run checks; each 422 names its pointer",
}


PHASES = {"": "examples,coverage,fuzzing", "s3cret": "examples,coverage"}
# Read to a file with --config-file. A run this test queues never starts (no worker), so its
# event stream stays open; its first event says all a check needs.
ST_CONFIG = """
[[operations]]
include-name = "GET /v1/runs/{run_id}/events"
max-stream-events = 1
"""


@dataclass
class Schemathesis:
    """One configuration's server and the `st run` against it."""

    svc: LiveService
    key: str
    workdir: Path
    proc: subprocess.Popen[str] | None = None
    out: str = ""

    @property
    def report(self) -> Path:
        return self.workdir / "schemathesis.ndjson"

    def start(self) -> None:
        config = self.workdir / "schemathesis.toml"
        config.write_text(ST_CONFIG)
        args = [
            str(Path(sys.executable).with_name("st")),
            f"--config-file={config}",
            "run",
            f"{self.svc.http.base_url}/openapi.json",
            "--checks=all",
            "--max-examples=10",
            f"--phases={PHASES[self.key]}",
            "--generation-deterministic",
            "--no-shrink",
            "--continue-on-failure",
            "--no-color",
            "--report=ndjson",
            f"--report-ndjson-path={self.report}",
        ]
        if self.key:
            args.append(f"--header=X-API-Key: {self.key}")
        # cwd: the CLI keeps a cache of what it found in .schemathesis/ under its working dir
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.workdir,
        )

    def wait(self) -> None:
        assert self.proc is not None
        self.out, _ = self.proc.communicate(timeout=400)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Schemathesis]]:
    """Both configurations at once, each on its own server: they share nothing, and the
    wall time is the longer of the two rather than their sum."""
    done: dict[str, Schemathesis] = {}
    for key in PHASES:
        workdir = tmp_path_factory.mktemp("st-key" if key else "st-nokey")
        svc = LiveService(
            workdir / "var",
            workers=0,
            api_key=key,
            mnist_url="http://127.0.0.1:9/mnist.npz",
            download_timeout=1,
        ).start(wait_ready=False)
        settings = make_settings(svc.data_dir)
        # Listed by GET /v1/runs, whence schemathesis takes ids for the operations on a run.
        finished_run(settings, "digits-softmax", losses=[1.0, 0.5])
        finished_run(settings, "zero-vs-one", status=RunStatus.FAILED)
        done[key] = Schemathesis(svc, key, workdir)
        done[key].start()
    try:
        for run in done.values():
            run.wait()
        yield done
    finally:
        for run in done.values():
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
            run.svc.stop(signal.SIGKILL)


def failures(ndjson: Path) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            failure = node.get("failure")
            if isinstance(failure, dict) and "operation" in failure:
                found[(failure["operation"], failure["code"])] += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for line in ndjson.read_text().splitlines():
        walk(json.loads(line))
    return found


def operations(schema: dict[str, Any]) -> set[str]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {
        f"{m.upper()} {path}" for path, ops in schema["paths"].items() for m in ops if m in methods
    }


def exercised(ndjson: Path) -> set[str]:
    """Operations for which some phase generated and sent cases (not skipped, not errored)."""
    seen = set()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        done = event.get("ScenarioFinished")
        if done and done["status"] in ("success", "failure"):
            seen.add(done["recorder"]["label"])
    return seen


@pytest.mark.parametrize("key", list(PHASES), ids=["no-key", "key"])
def test_schemathesis_finds_nothing_undeliberate(runs: dict[str, Schemathesis], key: str) -> None:
    run = runs[key]
    assert run.report.exists(), run.out[-6000:]
    found = failures(run.report)
    unexpected = {k: n for k, n in found.items() if k not in DELIBERATE}
    assert not unexpected, (
        f"undocumented behaviour: {unexpected}\n{run.out[-8000:]}\n{run.svc.logs()[-3000:]}"
    )
    headers = {"X-API-Key": key} if key else {}
    every = operations(run.svc.http.get("/openapi.json", headers=headers).json())
    assert every - exercised(run.report) == set(), run.out[-3000:]
