"""Predictor against real Keras models trained here on mnist-5k (a few seconds each)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.datasets.builtin import Split, load_split, targets
from app.datasets.catalog import CATALOG, MULTILABEL_NAMES
from app.errors import Conflict
from app.inference.decoding.image import decode_image, preprocess_digit
from app.inference.predictor import Predictor
from app.runs.spec import RunSpec
from app.training.artifacts import file_sha256
from tests.fixtures.images import render

pytestmark = pytest.mark.slow

keras = pytest.importorskip("keras")


@dataclass(frozen=True)
class Trained:
    path: Path
    sha256: str
    spec: dict[str, Any]
    split: Split

    def load(self, **overrides: Any) -> Predictor:
        args = {
            "path": self.path,
            "expected_sha256": self.sha256,
            "spec": self.spec,
            "run_id": "run-1",
            "name": "test-model",
        } | overrides
        return Predictor.load(**args)


def run_spec(
    classes: list[int] | None,
    units: int,
    activation: str,
    loss: str,
    from_logits: bool,
    target: str = "label",
    dataset: str = "mnist-5k",
) -> dict[str, Any]:
    """A normalised spec, as the run row stores it."""
    spec = RunSpec.model_validate(
        {
            "name": "test-model",
            "dataset": {"name": dataset, "classes": classes or list(range(10)), "target": target},
            "model": {
                "input_shape": list(CATALOG[dataset].shape),
                "layers": [
                    {"type": "flatten"},
                    {"type": "dense", "units": 128, "activation": "relu"},
                    {"type": "dense", "units": units, "activation": activation},
                ],
            },
            "training": {"loss": {"type": loss, "from_logits": from_logits}, "epochs": 1},
        }
    )
    return spec.model_dump(mode="json")


def train(tmp: Path, spec: dict[str, Any], epochs: int, loss: Any) -> Trained:
    keras.utils.set_random_seed(0)
    dataset = spec["dataset"]
    split = load_split(dataset["name"], dataset["classes"], 0.2, 42, tmp)
    last = spec["model"]["layers"][-1]
    model = keras.Sequential(
        [
            keras.Input((*spec["model"]["input_shape"], 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(last["units"], activation=last["activation"]),
        ]
    )
    model.compile(optimizer="adam", loss=loss)
    y = targets(split.labels_train, dataset["target"], dataset["classes"])
    model.fit(split.x_train[..., None], y, epochs=epochs, batch_size=64, verbose=0)
    path = tmp / "model.keras"
    model.save(path)
    return Trained(path, file_sha256(path), spec, split)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    spec = run_spec(None, 10, "linear", "sparse_categorical_crossentropy", from_logits=True)
    return train(
        tmp_path_factory.mktemp("digits"),
        spec,
        epochs=5,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


@pytest.fixture(scope="module")
def digits_predictor(digits: Trained) -> Predictor:
    return digits.load()


def accuracy(predictor: Predictor, batch: np.ndarray, labels: np.ndarray) -> float:
    return float((predictor.labels(batch) == labels).mean())


# --- loading ------------------------------------------------------------------------------


def test_a_changed_file_is_refused_before_it_is_loaded(digits: Trained, tmp_path: Path) -> None:
    impostor = tmp_path / "model.keras"
    impostor.write_bytes(b"not a keras archive at all")  # loading it would fail differently
    with pytest.raises(Conflict) as exc:
        digits.load(path=impostor)
    assert exc.value.status == 409
    assert "not the one training produced" in exc.value.detail
    assert "retrain" in exc.value.detail.lower()


def test_a_missing_file_is_a_conflict(digits: Trained, tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="missing"):
        digits.load(path=tmp_path / "gone.keras")


def test_a_model_that_does_not_match_its_spec_is_refused(digits: Trained) -> None:
    other = dict(digits.spec, model=dict(digits.spec["model"], input_shape=[8, 8]))
    with pytest.raises(Conflict, match="belongs to another model"):
        digits.load(spec=other)


# --- multiclass ---------------------------------------------------------------------------


def test_logits_become_probabilities(digits_predictor: Predictor, digits: Trained) -> None:
    batch = digits.split.x_test[:32]
    answers = digits_predictor.predict(batch)
    proba = digits_predictor.predict_proba(batch)
    assert proba.shape == (32, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    for answer, row in zip(answers, proba, strict=True):
        assert set(answer) == {"label", "probabilities"}
        assert isinstance(answer["label"], int) and answer["label"] == int(row.argmax())
        assert answer["probabilities"] == pytest.approx(row.tolist())
    assert accuracy(digits_predictor, digits.split.x_test, digits.split.labels_test) > 0.85


# Documents of users: dark ink on paper, photographed or scanned, with margins.
@pytest.mark.parametrize("style", ["png", "jpeg", "alpha", "offcentre", "grey", "thin"])
def test_images_score_like_the_raw_arrays(
    digits_predictor: Predictor, digits: Trained, style: str
) -> None:
    raw, labels = digits.split.x_test[:200], digits.split.labels_test[:200]
    images = np.stack(
        [
            preprocess_digit(decode_image(render(d, style), f"/files/{i}"), (28, 28))
            for i, d in enumerate(raw)
        ]
    )
    raw_accuracy = accuracy(digits_predictor, raw, labels)
    image_accuracy = accuracy(digits_predictor, images, labels)
    assert image_accuracy >= raw_accuracy - 0.02, (style, raw_accuracy, image_accuracy)


def test_concurrent_predictions_match_sequential_ones(
    digits_predictor: Predictor, digits: Trained
) -> None:
    batches = [digits.split.x_test[i : i + 1 + i % 7] for i in range(0, 64, 2)]
    expected = [digits_predictor.predict_proba(b) for b in batches]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(digits_predictor.predict_proba, batches * 4))
    for got, want in zip(results, expected * 4, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_digits_images_fill_the_8x8_box_like_the_raw_arrays(
    tmp_module: Callable[[str], Path],
) -> None:
    spec = run_spec(
        None, 10, "linear", "sparse_categorical_crossentropy", from_logits=True, dataset="digits"
    )
    trained = train(
        tmp_module("digits8"),
        spec,
        epochs=30,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    predictor = trained.load()
    raw, labels = trained.split.x_test, trained.split.labels_test
    images = np.stack(
        [preprocess_digit(decode_image(render(d, "png"), "/files/0"), (8, 8)) for d in raw]
    )
    # 8x8 originals blown up to 120 px are blocky, so allow a little more than for MNIST.
    assert accuracy(predictor, images, labels) >= accuracy(predictor, raw, labels) - 0.03


# --- other tasks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    return tmp_path_factory.mktemp


def test_binary_answers_with_the_dataset_labels(tmp_module: Callable[[str], Path]) -> None:
    spec = run_spec([3, 8], 1, "linear", "binary_crossentropy", from_logits=True)
    trained = train(
        tmp_module("binary"), spec, epochs=2, loss=keras.losses.BinaryCrossentropy(from_logits=True)
    )
    predictor = trained.load()
    batch, labels = trained.split.x_test, trained.split.labels_test
    answers = predictor.predict(batch)
    proba = predictor.predict_proba(batch)
    assert {a["label"] for a in answers} == {3, 8}
    for answer, row in zip(answers, proba, strict=True):
        assert set(answer) == {"label", "probability", "confidence"}
        assert 0.0 <= answer["probability"] <= 1.0
        assert answer["probability"] == pytest.approx(float(row[1]))  # p of classes[1], i.e. 8
        assert answer["label"] == (8 if row[1] >= 0.5 else 3)
        # How sure it is of the label it gives: a "3" with probability 0.02 is 98 % sure.
        assert answer["confidence"] == pytest.approx(float(row[1] if row[1] >= 0.5 else row[0]))
        assert answer["confidence"] >= 0.5
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert accuracy(predictor, batch, labels) > 0.9


def test_regression_answers_with_a_value(tmp_module: Callable[[str], Path]) -> None:
    spec = run_spec(None, 1, "linear", "mean_squared_error", from_logits=False, target="value")
    trained = train(tmp_module("regression"), spec, epochs=2, loss="mean_squared_error")
    predictor = trained.load()
    answers = predictor.predict(trained.split.x_test[:5])
    assert all(set(a) == {"value"} and isinstance(a["value"], float) for a in answers)
    assert predictor.values(trained.split.x_test[:5]).tolist() == pytest.approx(
        [a["value"] for a in answers]
    )
    with pytest.raises(Conflict, match="regression"):
        predictor.predict_proba(trained.split.x_test[:5])


def test_multilabel_answers_with_label_names(tmp_module: Callable[[str], Path]) -> None:
    spec = run_spec(
        None, 3, "sigmoid", "binary_crossentropy", from_logits=False, target="multilabel"
    )
    trained = train(tmp_module("multilabel"), spec, epochs=2, loss="binary_crossentropy")
    predictor = trained.load()
    batch = trained.split.x_test[:50]
    answers = predictor.predict(batch)
    indicators = predictor.labels(batch)
    assert indicators.shape == (50, 3) and indicators.dtype == np.int64
    for answer, row in zip(answers, indicators, strict=True):
        assert len(answer["probabilities"]) == len(MULTILABEL_NAMES)
        assert list(answer["label_names"]) == ["even", "at_least_5", "closed_loop"]
        assert answer["labels"] == [n for n, yes in zip(MULTILABEL_NAMES, row, strict=True) if yes]
    assert any(answer["labels"] for answer in answers)
