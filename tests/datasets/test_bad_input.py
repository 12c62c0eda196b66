"""Every bad upload is a 4xx problem naming the cause, and leaves no row and no file behind."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.db.migrations import upgrade
from app.main import create_app
from app.settings import Settings
from tests.datasets.files import (
    csv_bytes,
    csv_with_targets,
    idx_bytes,
    mnist_subset,
    npz_bytes,
    photo_png,
    yes_no_columns,
    zip_with,
)
from tests.fixtures.databases import make_settings

X, Y = mnist_subset((0, 1), per_class=4)
PNG = photo_png(X[0], side=60)


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    """Small caps so bombs and oversized uploads are cheap to build."""
    s = make_settings(
        tmp_path / "var",
        max_dataset_bytes=300_000,
        max_dataset_uncompressed_bytes=2_000_000,
        max_dataset_files=40,
    )
    upgrade(s.resolved_database_url)
    with TestClient(create_app(s)) as client:
        yield client, s
    # Nothing half-stored: no dataset is listed, and no file is left anywhere in the store.
    with TestClient(create_app(s)) as client:
        assert [d["name"] for d in client.get("/v1/datasets").json()["items"]] == [
            "digits",
            "mnist-5k",
            "mnist",
        ]
    datasets = s.data_dir / "datasets"
    assert not [p for p in datasets.rglob("*") if p.is_file()] if datasets.exists() else True


def post(client: TestClient, files: dict[str, tuple[str, bytes]], **fields: str) -> dict:
    resp = client.post("/v1/datasets", data={"name": "bad", **fields}, files=files)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    body["status_code"] = resp.status_code
    for error in body.get("errors", []):
        assert error["pointer"] is not None and error["hint"], error
    return body


def one_error(body: dict) -> dict[str, str]:
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def test_unknown_format(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    error = one_error(post(client, {"file": ("x.bin", bytes(range(256)) * 4)}))
    assert error["pointer"] == "/file" and "not one this service reads" in error["message"]
    assert "npz" in error["hint"] and "CSV" in error["hint"]


def test_empty_file(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    assert "empty" in one_error(post(client, {"file": ("x.csv", b"")}))["message"]


def test_mixed_formats(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    arrays_and_images = zip_with({"x.npy": b"\x93NUMPY", "0/a.png": PNG})
    error = one_error(post(client, {"file": ("m.zip", arrays_and_images)}))
    assert "mixes NumPy arrays" in error["message"]
    images_and_text = zip_with({"0/a.png": PNG, "0/b.png": PNG, "1/notes.txt": b"hello"})
    error = one_error(post(client, {"file": ("m.zip", images_and_text)}))
    assert error["pointer"] == "/file/1~1notes.txt" and "mixes formats" in error["message"]
    both = {
        "file": ("d.npz", npz_bytes(x=X, y=Y)),
        "images": ("i", idx_bytes(X)),
        "labels": ("l", idx_bytes(Y)),
    }
    assert one_error(post(client, both))["pointer"] == "/file"


def test_declared_format_that_does_not_fit(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    body = post(client, {"file": ("d.csv", csv_bytes(X, Y))}, format="npz")
    assert (
        one_error(body)["pointer"] == "/file" and "not a valid .npz" in body["errors"][0]["message"]
    )
    assert "format" in one_error(post(client, {"file": ("d", b"x")}, format="tar"))["pointer"]


def test_unknown_form_field(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=X, y=Y))}, lable_column="y"))
    assert error["pointer"] == "/lable_column" and "label_column" in error["hint"]


def test_length_mismatch(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=X, y=Y[:-1]))}))
    assert error["pointer"] == "/file/y" and "8 images but 7 labels" in error["message"]
    error = one_error(
        post(client, {"images": ("i", idx_bytes(X)), "labels": ("l", idx_bytes(Y[:5]))})
    )
    assert error["pointer"] == "/labels" and "8 images but 5 labels" in error["message"]


def test_ragged_csv_rows(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    lines = csv_bytes(X, Y).decode().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]  # line 4 loses its last pixel
    error = one_error(post(client, {"file": ("d.csv", "\n".join(lines).encode())}))
    assert error["pointer"] == "/file/lines/4" and "784 values" in error["message"]
    assert "ragged" in error["hint"]


def test_non_numeric_csv_value(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    lines = csv_bytes(X, Y).decode().splitlines()
    lines[2] = lines[2].replace(",0,", ",dark,", 1)
    error = one_error(post(client, {"file": ("d.csv", "\n".join(lines).encode())}))
    assert error["pointer"] == "/file/lines/3" and "'dark'" in error["message"]


def test_nan_and_inf(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    x = X.astype(np.float32)
    x[3, 5, 5] = np.nan
    x[4, 1, 1] = np.inf
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=x, y=Y))}))
    assert error["pointer"] == "/file/x" and "2 pixels are NaN or infinite" in error["message"]
    text = csv_bytes(X, Y).decode().replace("\n1,0,", "\n1,nan,", 1)
    error = one_error(post(client, {"file": ("d.csv", text.encode())}))
    assert error["pointer"] == "/file" and "NaN" in error["message"]


def test_labels_that_are_not_integers(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    y = Y.astype(np.float64)
    y[2] = 0.5
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=X, y=y))}))
    assert (
        error["pointer"] == "/file/y"
        and "0.5 of example 2 is not a whole number" in error["message"]
    )
    text = csv_bytes(X, Y).decode().replace("\n1,", "\n1.5,", 1)
    error = one_error(post(client, {"file": ("d.csv", text.encode())}))
    assert error["pointer"] == "/file/columns/0" and "not a whole number" in error["message"]


def test_fewer_than_two_classes(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=X, y=np.zeros(len(X))))}))
    assert "at least two classes" in error["message"]


def test_a_class_with_too_few_examples_for_the_split(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    y = Y.copy()
    y[0] = 7  # a single example of class 7: nothing left to train on once one is held out
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=X, y=y))}))
    assert "7 (1)" in error["message"] and "one to test and one to train" in error["hint"]


def test_images_of_different_sizes_without_a_declared_size(
    tight: tuple[TestClient, Settings],
) -> None:
    client, _ = tight
    archive = zip_with(
        {"0/a.png": photo_png(X[0], 30), "0/b.png": photo_png(X[1], 30), "1/c.png": PNG}
    )
    body = post(client, {"file": ("d.zip", archive)}, preprocess="none")
    error = one_error(body)
    assert error["pointer"] == "/file/1~1c.png" and "different sizes" in error["message"]
    assert "size=" in error["hint"]


def test_zip_over_the_uncompressed_cap(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("0/a.png", b"\0" * 3_000_000)  # compresses to a few KB
    body = post(client, {"file": ("bomb.zip", bomb.getvalue())})
    assert "unpacks to 3,000,000 bytes" in one_error(body)["message"]
    compressed = io.BytesIO()
    np.savez_compressed(compressed, x=np.zeros((4000, 28, 28), np.uint8), y=np.arange(4000) % 2)
    body = post(client, {"file": ("bomb.npz", compressed.getvalue())})
    assert "unpack to" in one_error(body)["message"]


def test_zip_with_too_many_files(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    archive = zip_with({f"{i % 2}/{i}.png": b"" for i in range(41)})
    assert (
        "41 files, over the limit of 40"
        in one_error(post(client, {"file": ("z.zip", archive)}))["message"]
    )


@pytest.mark.parametrize("name", ["../0/a.png", "/0/a.png", "0/../../a.png"])
def test_path_traversal_names(tight: tuple[TestClient, Settings], name: str) -> None:
    client, _ = tight
    archive = zip_with({"0/b.png": PNG, "1/c.png": PNG, name: PNG})
    error = one_error(post(client, {"file": ("z.zip", archive)}))
    assert "path traversal" in error["message"]


def test_symlinks(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    archive = zip_with({"0/b.png": PNG, "1/c.png": b"/etc/passwd"}, symlinks=("1/c.png",))
    error = one_error(post(client, {"file": ("z.zip", archive)}))
    assert error["pointer"] == "/file/1~1c.png" and "symbolic link" in error["message"]


def test_pickled_objects_in_npz(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    x = np.empty(len(X), dtype=object)
    x[:] = list(X)
    error = one_error(post(client, {"file": ("d.npz", npz_bytes(x=x, y=Y))}))
    assert "pickled" in error["message"]
    # A pickle file is refused too, without ever being unpickled.
    body = post(client, {"file": ("d.pkl", pickle.dumps({"x": X, "y": Y}))})
    assert one_error(body)["pointer"] == "/file"


def test_idx_header_that_does_not_match_the_data(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    lying = idx_bytes(X, dims=(len(X) + 1, 28, 28))
    error = one_error(post(client, {"images": ("i", lying), "labels": ("l", idx_bytes(Y))}))
    assert error["pointer"] == "/images" and "header says 9 x 28 x 28" in error["message"]
    extra = idx_bytes(np.concatenate([Y, Y]), dims=(len(Y),), gz=True)
    error = one_error(post(client, {"images": ("i", idx_bytes(X)), "labels": ("l.gz", extra)}))
    assert error["pointer"] == "/labels" and "more than" in error["message"]
    swapped = {"images": ("l", idx_bytes(Y)), "labels": ("i", idx_bytes(X))}
    assert "swap" in one_error(post(client, swapped))["hint"]
    lone = one_error(post(client, {"file": ("train-images.gz", idx_bytes(X, gz=True))}))
    assert lone["pointer"] == "/labels" and "pair" in lone["message"]


def test_upload_over_the_size_limit(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    big = csv_bytes(np.tile(X, (50, 1, 1)), np.tile(Y, 50))
    body = post(client, {"file": ("big.csv", big)})
    assert body["status_code"] == 413 and "300,000 bytes" in body["detail"]
    assert "TRAINSERVE_MAX_DATASET_BYTES" in body["errors"][0]["hint"]


def test_bad_names_and_options(tight: tuple[TestClient, Settings]) -> None:
    client, _ = tight
    good = {"file": ("d.npz", npz_bytes(x=X, y=Y))}
    assert one_error(post(client, good, name="../etc"))["pointer"] == "/name"
    assert "?version=new" in one_error(post(client, good, name="mine@2"))["hint"]
    assert one_error(post(client, good, size="big"))["pointer"] == "/size"
    flat = npz_bytes(x=X.reshape(len(X), -1)[:, :780], y=Y)
    assert "not a square image" in one_error(post(client, {"file": ("d.npz", flat)}))["message"]
    assert (
        one_error(post(client, {"file": ("d.csv", csv_bytes(X, Y))}, label_column="digit"))[
            "pointer"
        ]
        == "/file/columns"
    )


def test_csv_target_options_that_do_not_fit(tight: tuple[TestClient, Settings]) -> None:
    """Each bad combination of label_columns / target names the field and the fix."""
    client, _ = tight
    cols = yes_no_columns(Y)
    multi = {"file": ("m.csv", csv_with_targets(X, cols))}
    plain = {"file": ("d.csv", csv_bytes(X, Y))}
    cases: list[tuple[dict[str, tuple[str, bytes]], dict[str, str], str, str]] = [
        (multi, {"target": "multilabel"}, "/label_columns", "label_columns=even,at_least_5"),
        (multi, {"label_columns": "is_even,big"}, "/label_columns", "target=multilabel"),
        (
            multi,
            {"target": "value", "label_columns": "is_even,big"},
            "/label_columns",
            "list one column",
        ),
        (
            multi,
            {"target": "multilabel", "label_columns": "is_even,big", "label_column": "loop"},
            "/label_columns",
            "label_columns alone",
        ),
        (multi, {"target": "multilabel", "label_columns": "is_even,,big"}, "/label_columns", ","),
        (
            multi,
            {"target": "multilabel", "label_columns": "is_even,is_even"},
            "/label_columns",
            "once",
        ),
        (multi, {"target": "multilabel", "label_columns": "is_even,odd"}, "/file/columns", ""),
        (
            {"file": ("m.csv", csv_with_targets(X, {**cols, "loop": np.arange(len(Y)) % 3}))},
            {"target": "multilabel", "label_columns": "is_even,big,loop"},
            "/file/columns/2",
            "1 for yes and 0 for no",
        ),
        ({"file": ("d.npz", npz_bytes(x=X, y=Y))}, {"target": "value"}, "/target", "CSV"),
        (
            {"file": ("d.npz", npz_bytes(x=X, y=Y))},
            {"label_columns": "a,b"},
            "/label_columns",
            "CSV",
        ),
        (plain, {"target": "guess"}, "/target", ""),
    ]
    for files, fields, pointer, hint in cases:
        error = post(client, files, **fields)["errors"][0]
        assert error["pointer"] == pointer, (fields, error)
        assert hint in error["hint"], (fields, error)

    nan = csv_with_targets(X, {"value": np.where(np.arange(len(Y)) == 3, np.nan, Y * 0.5)})
    error = one_error(post(client, {"file": ("v.csv", nan)}, target="value", label_column="value"))
    assert error["pointer"] == "/file/columns/0" and "example 3" in error["message"]
