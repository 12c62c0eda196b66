"""The datasets page: upload an .npz, see it listed with its preview, delete it."""

from __future__ import annotations

import io

import numpy as np
from playwright.sync_api import Page, expect

from tests.fixtures.live import LiveService


def _npz() -> bytes:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = np.zeros((len(y), 12, 12), dtype=np.uint8)
    for i, label in enumerate(y):  # a bar whose position is the label, plus some noise
        x[i, 2:10, 2 + 3 * label : 4 + 3 * label] = 255
        x[i] |= (rng.random((12, 12)) < 0.05).astype(np.uint8) * 80
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    return buf.getvalue()


def test_a_dataset_is_uploaded_previewed_and_deleted(page: Page, service: LiveService) -> None:
    page.goto("/#/datasets")
    expect(page.locator('tr[data-dataset="mnist-5k"]')).to_be_visible()
    page.locator("#dataset-name").fill("bars")
    page.locator("#dataset-file").set_input_files(
        files=[{"name": "bars.npz", "mimeType": "application/octet-stream", "buffer": _npz()}]
    )
    page.locator("#dataset-upload").click()
    row = page.locator('tr[data-dataset="bars"]')
    expect(row).to_contain_text("12×12")
    expect(row).to_contain_text("60")
    page.wait_for_function(
        "document.querySelector('#preview-image')?.complete"
        " && document.querySelector('#preview-image').naturalWidth > 0"
    )
    assert service.http.get("/v1/datasets/bars").status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.delete").click()
    expect(row).to_have_count(0)
    assert service.http.get("/v1/datasets/bars").status_code == 404
