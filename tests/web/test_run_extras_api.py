"""The API the dashboard grew, over real HTTP on the session's trained runs (no browser)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from tests.fixtures.live import LiveService


def decode(data_url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :]))))


def test_errors_lists_the_wrong_test_images_most_confident_first(
    service: LiveService, digits: dict[str, Any]
) -> None:
    resp = service.http.get(f"/v1/runs/{digits['id']}/errors?limit=5")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    matrix = digits["evaluation"]["confusion_matrix"]
    wrong = sum(n for i, row in enumerate(matrix) for j, n in enumerate(row) if i != j)
    assert body["total"] == wrong > 0
    items = body["items"]
    assert 0 < len(items) <= 5
    assert all(i["label"] != i["predicted"] for i in items)
    assert [i["confidence"] for i in items] == sorted(
        (i["confidence"] for i in items), reverse=True
    )
    assert decode(items[0]["image"]).shape == (28, 28)
    assert "misclassified" not in digits["evaluation"]  # the run object stays small
    assert service.http.get(f"/v1/runs/{digits['id']}/errors?limit=65").status_code == 422


def test_predict_returns_the_image_the_model_saw_on_request(
    service: LiveService, zero_one: dict[str, Any]
) -> None:
    img = Image.new("L", (120, 200), 255)
    img.paste(0, (50, 20, 70, 180))  # a thick dark bar on white paper: a 1
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path = f"/v1/runs/{zero_one['id']}/predict"
    files = {"file": ("one.png", buf.getvalue(), "image/png")}
    plain = service.http.post(path, files=files).json()["predictions"][0]
    shown = service.http.post(f"{path}?include=input", files=files).json()["predictions"][0]
    assert "input" not in plain
    assert {k: v for k, v in shown.items() if k != "input"} == plain
    seen = decode(shown["input"])
    assert seen.shape == (28, 28)
    # Inverted (white ink on black), cropped to the ink and centred, as MNIST digits are.
    assert seen[0, 0] == 0 and seen.max() > 200 and seen[:, 14].sum() > seen[:, 2].sum()
    bad = service.http.post(f"{path}?include=everything", files=files)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/include"
