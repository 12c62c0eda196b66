"""Predictions over real HTTP from models trained by real workers: every input form, model
names, the Open Inference Protocol through the real tritonclient, and bad input."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.datasets.builtin import load_split
from tests.fixtures.images import encode, png_with_size, render
from tests.fixtures.live import LiveService, load_example, module_service

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with module_service(
        tmp_path_factory, "predict", workers=2, max_predict_instances=64, max_body_bytes=2_000_000
    ) as service:
        yield service


@pytest.fixture(scope="module")
def runs(svc: LiveService) -> dict[str, dict[str, Any]]:
    ids = {
        "binary": svc.submit(load_example("zero-vs-one", epochs=8))["id"],
        "digits": svc.submit(load_example("digits-logits", epochs=8))["id"],
    }
    three_eight = load_example("zero-vs-one", epochs=5)
    three_eight["dataset"]["classes"] = [3, 8]
    ids["three-eight"] = svc.submit(three_eight)["id"]
    ids["regression"] = svc.submit(load_example("digits-regression", epochs=2))["id"]
    return {k: svc.wait_for(v) for k, v in ids.items()}


@pytest.fixture(scope="module")
def held_out_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 40 images and labels of mnist-5k's test split (seed 42): unseen in training."""
    split = load_split("mnist-5k", None, 0.2, 42, Path("."))
    return split.x_test[:40], split.labels_test[:40]


def predict(svc: LiveService, run_id: str, **kwargs: Any) -> Any:
    return svc.http.post(f"/v1/runs/{run_id}/predict", **kwargs)


def test_json_arrays_nested_flat_and_255_scale(svc, runs, held_out_digits) -> None:
    x, y = held_out_digits
    run_id = runs["digits"]["id"]
    nested = predict(svc, run_id, json={"instances": x.tolist()}).json()
    flat = predict(
        svc, run_id, json={"instances": (x.reshape(40, -1) * 255).round().astype(int).tolist()}
    )
    assert nested["model"] == {"run_id": run_id, "name": runs["digits"]["name"]}
    labels = [p["label"] for p in nested["predictions"]]
    assert np.mean(np.array(labels) == y) >= 0.85
    assert [p["label"] for p in flat.json()["predictions"]] == labels
    for p in nested["predictions"]:  # a logits model still answers with probabilities
        assert len(p["probabilities"]) == 10 and sum(p["probabilities"]) == pytest.approx(
            1, abs=1e-4
        )


def test_uploaded_images_and_base64_match_the_arrays(svc, runs, held_out_digits) -> None:
    x, y = held_out_digits
    run_id = runs["digits"]["id"]
    raw = [
        p["label"]
        for p in predict(svc, run_id, json={"instances": x.tolist()}).json()["predictions"]
    ]
    files = [("file", (f"{i}.png", render(d, "png"), "image/png")) for i, d in enumerate(x)]
    uploaded = [p["label"] for p in predict(svc, run_id, files=files).json()["predictions"]]
    b64 = [{"b64": base64.b64encode(render(d, "jpeg")).decode()} for d in x]
    encoded = [
        p["label"] for p in predict(svc, run_id, json={"instances": b64}).json()["predictions"]
    ]
    assert np.mean(np.array(uploaded) == y) >= np.mean(np.array(raw) == y) - 0.05
    assert np.mean(np.array(encoded) == y) >= np.mean(np.array(raw) == y) - 0.05


def test_binary_and_class_subset_answer_in_dataset_labels(svc, runs, held_out_digits) -> None:
    x, y = held_out_digits
    zero_one = x[np.isin(y, [0, 1])]
    answers = predict(svc, runs["binary"]["id"], json={"instances": zero_one.tolist()}).json()
    assert [p["label"] for p in answers["predictions"]] == y[np.isin(y, [0, 1])].tolist()
    assert all(0 <= p["probability"] <= 1 for p in answers["predictions"])
    three_eight = predict(svc, runs["three-eight"]["id"], json={"instances": x[:5].tolist()}).json()
    assert {p["label"] for p in three_eight["predictions"]} <= {3, 8}
    value = predict(svc, runs["regression"]["id"], json={"instances": x[:2].tolist()}).json()
    assert all(isinstance(p["value"], float) for p in value["predictions"])


def drawn(shape: str) -> bytes:
    """A digit drawn the way the web page draws it: an 18 px round black pen on a white
    280x280 canvas, off centre and far bigger than MNIST's 20x20 box."""
    canvas = Image.new("RGB", (280, 280), "white")
    pen = ImageDraw.Draw(canvas)
    if shape == "one":
        pen.line([(150, 50), (160, 230)], fill="black", width=18, joint="curve")
    else:
        pen.ellipse([70, 40, 190, 240], outline="black", width=18)
    return encode(canvas)


def test_digits_drawn_on_the_web_page_are_recognised(svc, runs) -> None:
    files = [
        ("file", ("zero.png", drawn("zero"), "image/png")),
        ("file", ("one.png", drawn("one"), "image/png")),
    ]
    answers = predict(svc, runs["binary"]["id"], files=files).json()["predictions"]
    assert [a["label"] for a in answers] == [0, 1]


def test_model_names_point_at_runs_and_repoint(svc, runs, held_out_digits) -> None:
    x, _ = held_out_digits
    resp = svc.http.put("/v1/models/prod", json={"run_id": runs["binary"]["id"]})
    assert resp.status_code == 201
    first = svc.http.post("/v1/models/prod/predict", json={"instances": x[:1].tolist()}).json()
    assert first["model"] == {"run_id": runs["binary"]["id"], "name": "prod"}
    assert svc.http.put("/v1/models/prod", json={"run_id": runs["digits"]["id"]}).status_code == 200
    second = svc.http.post("/v1/models/prod/predict", json={"instances": x[:1].tolist()}).json()
    assert second["model"]["run_id"] == runs["digits"]["id"]
    assert "probabilities" in second["predictions"][0]
    assert [m["name"] for m in svc.http.get("/v1/models").json()["items"]] == ["prod"]
    assert svc.http.delete(f"/v1/runs/{runs['digits']['id']}").status_code == 409  # named
    assert svc.http.delete("/v1/models/prod").status_code == 204
    assert svc.http.get("/v1/models/prod").status_code == 404


def test_tritonclient_infers_unchanged(svc, runs, held_out_digits) -> None:
    import tritonclient.http as httpclient

    x, y = held_out_digits
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{svc.port}")
    run_id = runs["digits"]["id"]
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(run_id)
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata(run_id)
    assert meta["inputs"][0]["shape"] == [-1, 28, 28]
    pixels = (x * 255).round().astype(np.uint8)
    inp = httpclient.InferInput("input", list(pixels.shape), "UINT8")
    inp.set_data_from_numpy(pixels)
    result = client.infer(run_id, [inp])
    probs, labels = result.as_numpy("probabilities"), result.as_numpy("label")
    assert probs.shape == (40, 10) and labels.dtype == np.int64
    json_out = client.infer(
        run_id, [inp], outputs=[httpclient.InferRequestedOutput("label", binary_data=False)]
    )
    assert json_out.as_numpy("label").tolist() == labels.tolist()
    assert np.mean(labels == y) >= 0.85
    flat = httpclient.InferInput("input", [40, 784], "FP32")
    flat.set_data_from_numpy(x.reshape(40, 784).astype(np.float32), binary_data=False)
    assert client.infer(run_id, [flat]).as_numpy("label").tolist() == labels.tolist()
    deep = svc.http.post(f"/v2/models/{run_id}/infer", content=b'{"inputs": ' + b"[" * 100_000)
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["errors"][0]["message"]
    bad = httpclient.InferInput("input", [1, 27, 28], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 27, 28), np.float32))
    with pytest.raises(httpclient.InferenceServerException, match="shape"):
        client.infer(run_id, [bad])


BAD = [
    ("empty body", {"content": b"", "headers": {"content-type": "application/json"}}, 422),
    ("not json", {"content": b"{oops", "headers": {"content-type": "application/json"}}, 422),
    (
        "deeply nested",
        {"content": b"[" * 100_000, "headers": {"content-type": "application/json"}},
        422,
    ),
    ("wrong shape", {"json": {"instances": [[[0] * 27] * 28]}}, 422),
    (
        "nan pixel",
        {"content": b'{"instances": [[NaN]]}', "headers": {"content-type": "application/json"}},
        422,
    ),
    ("out of range", {"json": {"instances": [[300] * 784]}}, 422),
    ("too many", {"json": {"instances": [[0] * 784] * 65}}, 422),
    ("not an image", {"files": [("file", ("a.png", b"hello", "image/png"))]}, 400),
    (
        "truncated png",
        {"files": [("file", ("a.png", encode(Image.new("L", (64, 64), 255))[:60], "image/png"))]},
        400,
    ),
    (
        "decompression bomb",
        {"files": [("file", ("a.png", png_with_size(20_000, 20_000), "image/png"))]},
        422,
    ),
    (
        "animated",
        {
            "files": [
                (
                    "file",
                    (
                        "a.png",
                        encode(
                            Image.new("L", (28, 28)),
                            save_all=True,
                            append_images=[Image.new("L", (28, 28), 255)],
                        ),
                        "image/png",
                    ),
                )
            ]
        },
        422,
    ),
    (
        "16-bit",
        {
            "files": [
                (
                    "file",
                    (
                        "a.png",
                        encode(Image.fromarray(np.full((28, 28), 40000, np.uint16))),
                        "image/png",
                    ),
                )
            ]
        },
        422,
    ),
    (
        "too many files",
        {"files": [("file", ("a.png", encode(Image.new("L", (28, 28))), "image/png"))] * 65},
        422,
    ),
    (
        "broken multipart",
        {
            "content": b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
            + b"x" * 20_000
            + b'"\r\n\r\nabc',
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
        400,
    ),
    (
        "too large",
        {"content": b"0" * 2_100_000, "headers": {"content-type": "application/json"}},
        413,
    ),
    ("wrong media type", {"content": b"x", "headers": {"content-type": "text/plain"}}, 415),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_problem_not_a_crash(svc, runs, case, request_kwargs, status) -> None:
    resp = predict(svc, runs["digits"]["id"], **request_kwargs)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["detail"]
    assert svc.http.get("/healthz").status_code == 200


def test_unknown_and_unfinished_runs(svc, runs) -> None:
    assert predict(svc, "0" * 22, json={"instances": [[0] * 784]}).status_code == 404
    assert (
        svc.http.post("/v1/models/nope/predict", json={"instances": [[0] * 784]}).status_code == 404
    )
    queued = svc.submit(load_example("digits-relu", epochs=300))["id"]
    resp = predict(svc, queued, json={"instances": [[0] * 784]})
    assert resp.status_code == 409
    svc.http.post(f"/v1/runs/{queued}/cancel")


def test_a_changed_model_file_is_refused_never_loaded(svc, runs) -> None:
    run_id = svc.submit(load_example("zero-vs-one", epochs=1))["id"]
    assert svc.wait_for(run_id)["status"] == "succeeded"
    model = svc.data_dir / "runs" / run_id / "model.keras"
    model.write_bytes(model.read_bytes()[:-10] + b"tampered!!")
    resp = predict(svc, run_id, json={"instances": [[0] * 784]})
    assert resp.status_code == 409
    assert "sha256" in resp.json()["detail"] or "checksum" in resp.json()["detail"]


def test_metrics_show_runs_and_predictions(svc, runs) -> None:
    for _ in range(2):  # the first may load the model; the second is a cache hit
        predict(svc, runs["binary"]["id"], json={"instances": [[0] * 784]})
    text = svc.http.get("/metrics").text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("trainserve_")
    }
    assert samples['trainserve_runs{status="succeeded"}'] >= 4
    assert samples["trainserve_epochs_trained_total"] >= 23
    assert samples["trainserve_prediction_seconds_count"] >= 1
    assert samples["trainserve_model_cache_hits_total"] >= 1
    assert any(
        k.startswith(
            'trainserve_http_requests_total{method="POST",route="/v1/runs/{run_id}/predict"'
        )
        for k in samples
    )


def test_concurrent_requests_get_their_own_answers(svc, runs, held_out_digits) -> None:
    """Small requests arriving together share a forward pass; each must still get exactly
    the answer it gets alone, including requests for another model and bad ones."""
    x, _ = held_out_digits
    digits, binary = runs["digits"]["id"], runs["binary"]["id"]
    jobs = [(digits, x[i : i + 1 + i % 3]) for i in range(24)] + [
        (binary, x[i : i + 1]) for i in range(8)
    ]
    alone = [
        predict(svc, run_id, json={"instances": batch.tolist()}).json() for run_id, batch in jobs
    ]

    def send(job: tuple[str, np.ndarray]) -> Any:
        with httpx.Client(base_url=svc.http.base_url, timeout=30) as http:
            return http.post(f"/v1/runs/{job[0]}/predict", json={"instances": job[1].tolist()})

    bad = (digits, np.full((1, 28, 28), 300.0))
    passes_before = _metric(svc, "trainserve_requests_per_forward_pass_count")
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(send, [*jobs, bad] * 2))
    for resp, expected in zip(together, [*alone, None] * 2, strict=True):
        if expected is None:
            assert resp.status_code == 422
            continue
        assert resp.status_code == 200
        got = resp.json()
        assert got["model"] == expected["model"]
        assert len(got["predictions"]) == len(expected["predictions"])
        for g, e in zip(got["predictions"], expected["predictions"], strict=True):
            assert g.get("label") == e.get("label")
            np.testing.assert_allclose(
                g.get("probabilities", g.get("probability")),
                e.get("probabilities", e.get("probability")),
                atol=1e-5,
            )
    # 64 good requests, answered on the event loop in at most 64 forward passes.
    assert 0 < _metric(svc, "trainserve_requests_per_forward_pass_count") - passes_before <= 64


def test_small_uploads_share_forward_passes_and_keep_their_answers(
    svc, runs, held_out_digits
) -> None:
    """28x28 PNGs are decoded on the event loop and batched with their neighbours; each must
    get the answer its pixels get as JSON, and a broken one must not spoil the others."""
    x, _ = held_out_digits
    run_id = runs["digits"]["id"]
    pngs = [encode(Image.fromarray((d * 255).round().astype(np.uint8))) for d in x[:16]]
    as_json = predict(svc, run_id, json={"instances": [(d * 255).round().tolist() for d in x[:16]]})
    expected = as_json.json()["predictions"]

    def send(data: bytes) -> httpx.Response:
        with httpx.Client(base_url=svc.http.base_url, timeout=30) as http:
            return http.post(
                f"/v1/runs/{run_id}/predict?preprocess=none",
                files=[("file", ("d.png", data, "image/png"))],
            )

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, [*pngs, pngs[0][:50]] * 2))
    for resp, want in zip(answers, [*expected, None] * 2, strict=True):
        if want is None:
            assert resp.status_code == 400 and resp.json()["errors"][0]["pointer"] == "/files/0"
            continue
        assert resp.status_code == 200, resp.text
        (got,) = resp.json()["predictions"]
        assert got["label"] == want["label"]
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)


def _metric(svc: LiveService, name: str) -> float:
    for line in svc.http.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_unknown_preprocess_mode_names_the_parameter(svc, runs, held_out_digits) -> None:
    x, _ = held_out_digits
    resp = svc.http.post(
        f"/v1/runs/{runs['digits']['id']}/predict?preprocess=otsu",
        json={"instances": x[:1].tolist()},
    )
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    (error,) = resp.json()["errors"]
    assert error["pointer"] == "/preprocess" and "mnist" in error["hint"]
