"""The client CLI as a user runs it: `python -m app.cli ...` in a subprocess against a real
`trainserve serve` (a dropped event stream is a real server killed and restarted)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.client.sse import parse_lines
from app.enums import RunStatus
from tests.fixtures.databases import make_settings
from tests.fixtures.live import ROOT, LiveService, free_port, load_example, module_service
from tests.fixtures.runs import finished_run

Live = Callable[..., LiveService]


def url_of(svc: LiveService) -> str:
    return f"http://127.0.0.1:{svc.port}"


def cli(
    url: str, *args: str, api_key: str = "", timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the CLI like a user would; an expected failure must never show a traceback."""
    env = {
        **os.environ,
        "TRAINSERVE_URL": url,
        "TRAINSERVE_API_KEY": api_key,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def write_spec(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def submitted_id(stdout: str) -> str:
    match = re.search(r"submitted run ([0-9a-f]{22})", stdout)
    assert match, stdout
    return match.group(1)


def row_of(table: str, run_id: str) -> str:
    rows = [line for line in table.splitlines() if line.startswith(run_id)]
    assert len(rows) == 1, table
    return rows[0]


# -- against a live server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One service with a worker for the tests that need no fresh one (a start costs ~17 s
    of CPU); it exports ONNX, which predictions use."""
    with module_service(tmp_path_factory, "cli", export_formats="onnx") as svc:
        yield svc


@pytest.mark.slow
def test_submit_watch_trains_and_the_run_shows_up(trainer: LiveService, tmp_path: Path) -> None:
    svc = trainer
    url = url_of(svc)
    spec = write_spec(tmp_path, load_example("zero-vs-one", epochs=3))

    proc = cli(url, "submit", str(spec), "--watch", "--name", "cli-zero-one")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = submitted_id(proc.stdout)
    assert f"Location: {url}/v1/runs/{run_id}" in proc.stdout
    for n in (1, 2, 3):
        line = rf"^epoch {n}/3  loss \d\.\d{{4}}  accuracy \d\.\d{{4}}"
        assert re.search(line, proc.stdout, re.M), proc.stdout
    accuracy = svc.run(run_id)["evaluation"]["accuracy"]
    assert f"run {run_id} succeeded: test accuracy {accuracy:.4f}" in proc.stdout

    listed = cli(url, "runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:6] == ["id", "name", "status", "epoch", "accuracy", "created"]
    row = row_of(listed.stdout, run_id).split()
    assert row[1:5] == ["cli-zero-one", "succeeded", "3/3", f"{accuracy:.4f}"]

    shown = cli(url, "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"^id\s+{run_id}$", shown.stdout, re.M)
    assert re.search(r"^status\s+succeeded", shown.stdout, re.M)
    assert re.search(rf"^test\s+accuracy {accuracy:.4f}", shown.stdout, re.M)
    as_json = cli(url, "runs", "show", run_id, "--json")
    assert json.loads(as_json.stdout)["status"] == "succeeded"


@pytest.mark.slow
def test_predict_and_model_names_against_a_trained_run(
    trainer: LiveService, tmp_path: Path
) -> None:
    svc = trainer
    url = url_of(svc)
    run_id = svc.submit(load_example("zero-vs-one", epochs=3))["id"]
    assert svc.wait_for(run_id)["status"] == "succeeded"
    images = [_digit_png(tmp_path, 1), _digit_png(tmp_path, 0)]
    files = [("file", (p.name, p.read_bytes(), "image/png")) for p in images]
    expected = svc.http.post(f"/v1/runs/{run_id}/predict", files=files).json()["predictions"]

    by_run = cli(url, "predict", run_id, *map(str, images))
    assert by_run.returncode == 0, by_run.stderr
    assert by_run.stdout.splitlines() == [
        f"{path} → {pred['label']}  (confidence {pred['confidence']:.4f})"
        for path, pred in zip(images, expected, strict=True)
    ]

    named = cli(url, "models", "set", "zero-one", run_id)
    assert (named.returncode, named.stdout.strip()) == (0, f"model zero-one → run {run_id}")
    assert re.search(rf"^zero-one\s+{run_id}", cli(url, "models", "list").stdout, re.M)
    by_name = cli(url, "predict", "zero-one", str(images[0]), "--json")
    assert json.loads(by_name.stdout)["predictions"] == expected[:1]

    unknown = cli(url, "predict", "no-such-model", str(images[0]))
    assert unknown.returncode == 2
    assert "error: HTTP 404 Not Found" in unknown.stderr


def _digit_png(tmp_path: Path, digit: int) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("L", (100, 100), 255)  # dark ink on white paper, like a scan
    draw = ImageDraw.Draw(image)
    if digit == 1:
        draw.line((50, 15, 50, 85), fill=0, width=8)
    else:
        draw.ellipse((25, 15, 75, 85), outline=0, width=8)
    path = tmp_path / f"digit-{digit}.png"
    image.save(path)
    return path


@pytest.mark.slow
def test_watch_resumes_after_the_server_restarts(live: Live, tmp_path: Path) -> None:
    svc = live(workers=1, export_formats="")
    spec = write_spec(tmp_path, load_example("zero-vs-one", epochs=12))
    env = {**os.environ, "TRAINSERVE_URL": url_of(svc), "TRAINSERVE_API_KEY": ""}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "submit", str(spec), "--watch"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        lines = _read_until(watcher.stdout, "epoch 2/12")
        svc.stop(signal.SIGKILL)  # API and worker die mid-run; the event stream breaks
        svc.start()  # same port and data dir: the run is reclaimed and resumed
        out, err = watcher.communicate(timeout=240)
    finally:
        watcher.kill()
    out = "".join(lines) + out
    assert watcher.returncode == 0, out + err
    assert "Traceback" not in err
    assert "status queued (attempt 1)" in out or "(attempt 2)" in out, out  # it was reclaimed
    epochs = [int(n) for n in re.findall(r"^epoch (\d+)/12", out, re.M)]
    assert epochs[-1] == 12 and sorted(set(epochs)) == list(range(1, 13)), epochs
    assert re.search(r"run [0-9a-f]{22} succeeded: test accuracy", out)


def _read_until(stream: Any, marker: str) -> list[str]:
    lines = []
    for line in stream:
        lines.append(line)
        if line.startswith(marker):
            return lines
    raise AssertionError("".join(lines))


def test_submit_prints_id_and_location_and_list_filters(live: Live, tmp_path: Path) -> None:
    svc = live(workers=0)  # nobody trains: the run stays queued
    url = url_of(svc)
    spec = write_spec(tmp_path, load_example("zero-vs-one"))

    proc = cli(url, "submit", str(spec), "--idempotency-key", "k-1")
    assert proc.returncode == 0, proc.stderr
    run_id = submitted_id(proc.stdout)
    assert f"submitted run {run_id} (zero-vs-one): queued" in proc.stdout
    assert f"Location: {url}/v1/runs/{run_id}" in proc.stdout
    again = cli(url, "submit", str(spec), "--idempotency-key", "k-1", "--quiet")
    assert again.stdout.strip() == run_id

    assert row_of(cli(url, "runs", "list").stdout, run_id).split()[1:5] == [
        "zero-vs-one",
        "queued",
        "0/20",
        "-",
    ]
    assert run_id in cli(url, "runs", "list", "--status", "queued").stdout
    assert (
        cli(url, "runs", "list", "--status", "succeeded").stdout.strip()
        == "no runs with status succeeded"
    )
    listed = json.loads(cli(url, "runs", "list", "--json", "--limit", "1").stdout)
    assert [r["id"] for r in listed["items"]] == [run_id]
    shown = cli(url, "runs", "show", run_id)
    assert re.search(r"^status\s+queued", shown.stdout, re.M)
    assert "dense(units=25, activation=sigmoid)" in shown.stdout


def test_compare_shows_runs_side_by_side(live: Live) -> None:
    svc = live(workers=0)
    url = url_of(svc)
    short = svc.submit(load_example("zero-vs-one", epochs=3))["id"]
    long = svc.submit(load_example("zero-vs-one", epochs=9))["id"]
    other = load_example("zero-vs-one", epochs=3)
    other["dataset"]["name"] = "digits"
    small = svc.submit(other)["id"]

    proc = cli(url, "runs", "compare", short, long)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^status\s+queued\s+queued\s*$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^/training/epochs\s+3\s+9\s*$", proc.stdout, re.M), proc.stdout
    assert proc.stderr == ""
    flagged = cli(url, "runs", "compare", short, small)
    assert re.search(r"^/dataset/name\s+mnist-5k\s+digits\s*$", flagged.stdout, re.M)
    assert "warning: /dataset/name: the runs differ here" in flagged.stderr
    alone = cli(url, "runs", "compare", short)
    assert alone.returncode == 2 and "/ids" in alone.stderr


def test_bad_spec_prints_every_pointer_with_its_hint(live: Live, tmp_path: Path) -> None:
    svc = live(workers=0)
    spec = load_example("zero-vs-one")
    spec["model"]["layers"][1]["activation"] = "sigmoidal"
    spec["training"]["epochs"] = 0
    proc = cli(url_of(svc), "submit", str(write_spec(tmp_path, spec)))

    assert proc.returncode == 2
    assert proc.stdout == ""
    problem = svc.http.post("/v1/runs", json=spec).json()
    assert f"error: HTTP 422 Unprocessable Entity: {problem['detail']}" in proc.stderr
    assert len(problem["errors"]) >= 2
    for err in problem["errors"]:
        assert f"  {err['pointer']}: {err['message']} ({err['hint']})" in proc.stderr
    assert "/model/layers/1/activation" in proc.stderr
    assert "/training/epochs" in proc.stderr


def test_local_spec_problems_exit_2(live: Live, tmp_path: Path) -> None:
    svc = live(workers=0)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",')
    proc = cli(url_of(svc), "submit", str(broken))
    assert proc.returncode == 2
    assert f"error: {broken} is not valid JSON" in proc.stderr
    missing = cli(url_of(svc), "submit", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_cancel_delete_and_their_conflicts(live: Live, tmp_path: Path) -> None:
    svc = live(workers=0)
    url = url_of(svc)
    run_id = svc.submit(load_example("zero-vs-one"))["id"]

    cancelled = cli(url, "runs", "cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"run {run_id}: cancelled"

    again = cli(url, "runs", "cancel", run_id)
    assert again.returncode == 2
    detail = svc.http.post(f"/v1/runs/{run_id}/cancel").json()["detail"]
    assert again.stderr.strip() == f"error: HTTP 409 Conflict: {detail}"

    watched = cli(url, "runs", "watch", run_id)
    assert watched.returncode == 1
    assert f"run {run_id} cancelled" in watched.stdout

    deleted = cli(url, "runs", "delete", run_id)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, f"deleted run {run_id}")
    gone = cli(url, "runs", "show", run_id)
    assert gone.returncode == 2
    assert f"error: HTTP 404 Not Found: No run with id '{run_id}'." in gone.stderr


def test_unreachable_server_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (
        ["runs", "list"],
        ["submit", str(ROOT / "models" / "zero-vs-one.json")],
        ["models", "list"],
    ):
        proc = cli(url, *args)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith(f"error: cannot reach the server at {url}"), proc.stderr
    bad = cli("not-a-url", "runs", "list")
    assert bad.returncode == 2
    assert "invalid server URL 'not-a-url'" in bad.stderr


def test_api_key_is_sent_from_the_option_or_the_env(live: Live) -> None:
    svc = live(workers=0, api_key="s3cret")
    url = url_of(svc)

    denied = cli(url, "runs", "list")
    assert denied.returncode == 2
    assert "error: HTTP 401 Unauthorized: Missing or wrong X-API-Key header." in denied.stderr
    assert cli(url, "runs", "list", "--api-key", "wrong").returncode == 2

    allowed = cli(url, "runs", "list", "--api-key", "s3cret")
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "no runs")
    assert cli(url, "runs", "list", api_key="s3cret").returncode == 0


# -- pure functions ----------------------------------------------------------------------
def test_sse_parser_joins_data_lines_and_skips_comments() -> None:
    lines = [": hello", "event: epoch", 'data: {"a":', "data: 1}", "id: 7", "", "data: x", ""]
    events = list(parse_lines(lines))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("epoch", '{"a":\n1}', "7"),
        ("message", "x", "7"),
    ]


def test_show_and_list_explain_their_numbers(live: Live) -> None:
    svc = live(workers=0)
    url, settings = url_of(svc), make_settings(svc.data_dir)
    errors = {"num_examples": 9, "loss": 1.5, "mae": 0.75, "rmse": 1.25}
    regression = finished_run(settings, "digits-regression", losses=[2.0], evaluation=errors)
    training = finished_run(settings, "zero-vs-one", losses=[0.5], status=RunStatus.RUNNING)

    shown = cli(url, "runs", "show", regression).stdout
    assert re.search(r"^test\s+loss 1\.5000  mae 0\.7500  rmse 1\.2500$", shown, re.M), shown
    listed = cli(url, "runs", "list").stdout
    assert row_of(listed, training).split()[2:5] == ["running", "1/1", "~0.7500"]
    assert "~ = training accuracy of the last epoch so far" in " ".join(listed.split())
