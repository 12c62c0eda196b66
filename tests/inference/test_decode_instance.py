"""Request items → batches: JSON instances in every form, base64 and uploaded images, and
every way they can be wrong, each reported under its own pointer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.inference.decoding.instance import images_to_batch, parse_instances
from tests.fixtures.images import b64, distance, encode, only_error, render

MNIST = (28, 28)


# --- parse_instances ----------------------------------------------------------------------


def test_nested_flat_and_channel_lists_give_the_same_batch() -> None:
    pixels = np.arange(784).reshape(28, 28) % 256
    batch = parse_instances(
        [
            pixels.tolist(),
            pixels.ravel().tolist(),
            pixels[..., None].tolist(),
            (pixels / 255).tolist(),
        ],
        MNIST,
        preprocess=True,
        max_instances=10,
    )
    assert batch.shape == (4, 28, 28) and batch.dtype == np.float32
    for image in batch:
        np.testing.assert_allclose(image, pixels / 255, atol=1e-6)  # arrays are not centred


def test_unit_range_pixels_are_kept_as_they_are() -> None:
    ones = np.eye(28).tolist()
    np.testing.assert_array_equal(parse_instances([ones], MNIST, True, 1)[0], np.eye(28))


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        (np.zeros((27, 28)).tolist(), "expected 28x28 nested list or 784 flat pixels, got 27x28"),
        ([0] * 783, "got 783 flat pixels"),
        ([[0] * 28] * 27 + [[0] * 27], "rows of different lengths"),
        ([["0"] * 28] * 28, "text"),
        ([[None] * 28] * 28, "non-numeric"),
        ("pixels", "got str"),
        ({"pixels": []}, "keys ['pixels']"),
    ],
)
def test_malformed_instances_say_what_the_model_expects(instance: object, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances([np.zeros((28, 28)).tolist(), instance], MNIST, True, 5)
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/1", 422)
    assert message in text


@pytest.mark.parametrize(
    ("value", "pointer", "message"),
    [
        (float("nan"), "/instances/0/3/5", "NaN"),
        (float("inf"), "/instances/0/3/5", "infinite"),
        (-1, "/instances/0/3/5", "negative"),
        (256, "/instances/0/3/5", "above 255"),
    ],
)
def test_bad_pixels_are_pointed_at(value: float, pointer: str, message: str) -> None:
    pixels = np.zeros((28, 28)).tolist()
    pixels[3][5] = value
    with pytest.raises(InvalidInput) as exc:
        parse_instances([pixels], MNIST, True, 5)
    at, text, status = only_error(exc)
    assert (at, status) == (pointer, 422) and message in text


def test_bad_flat_pixels_point_at_their_flat_index() -> None:
    pixels = [0] * 784
    pixels[100] = 300
    with pytest.raises(InvalidInput) as exc:
        parse_instances([pixels], MNIST, True, 5)
    assert only_error(exc)[0] == "/instances/0/100"


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([], "instances is empty"),
        ([[0] * 784] * 4, "4 instances; the limit is 3"),
        ({"b64": ""}, "got dict"),
    ],
)
def test_the_instance_list_itself_is_checked(instances: object, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances(instances, MNIST, True, max_instances=3)
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances", 422)
    assert message in text


def test_every_bad_instance_is_reported_at_once() -> None:
    good = [0] * 784
    with pytest.raises(InvalidInput) as exc:
        parse_instances([good, [0] * 10, good, {"b64": "%%%"}], MNIST, True, 10)
    assert [e.pointer for e in exc.value.errors] == ["/instances/1", "/instances/3/b64"]
    assert exc.value.status == 422 and "2 of 4 instances" in exc.value.detail


def test_b64_images_are_decoded_and_preprocessed(
    mnist_digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, _ = mnist_digits
    png = render(images[0], "png")
    data_url = {"b64": "data:image/png;base64," + b64(png)["b64"]}
    batch = parse_instances([b64(png), data_url], MNIST, True, 5)
    assert batch.shape == (2, 28, 28)
    assert distance(batch[0], images[0]) < 0.05
    np.testing.assert_array_equal(batch[0], batch[1])


def test_invalid_base64_is_a_400() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances([{"b64": "not base64!"}], MNIST, True, 5)
    assert only_error(exc)[0::2] == ("/instances/0/b64", 400)


def test_preprocess_none_takes_the_image_as_model_pixels() -> None:
    pixels = (np.arange(784).reshape(28, 28) % 256).astype(np.uint8)
    batch = parse_instances([b64(encode(Image.fromarray(pixels)))], MNIST, False, 5)
    np.testing.assert_allclose(batch[0], pixels / 255, atol=1e-6)  # no inversion, no centring
    rgb_gray = encode(Image.fromarray(pixels).convert("RGB"))
    np.testing.assert_allclose(
        parse_instances([b64(rgb_gray)], MNIST, False, 5)[0], pixels / 255, atol=1e-6
    )


@pytest.mark.parametrize(
    ("img", "message"),
    [
        (Image.new("L", (28, 27)), "the image is 27x28 (HxW); the model expects 28x28"),
        (Image.new("RGB", (28, 28), (255, 0, 0)), "colour or transparency"),
        (Image.new("LA", (28, 28), (0, 0)), "colour or transparency"),
    ],
)
def test_preprocess_none_refuses_images_that_are_not_model_pixels(
    img: Image.Image, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances([b64(encode(img))], MNIST, False, 5)
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/0", 422) and message in text


# --- images_to_batch ----------------------------------------------------------------------


def test_uploads_keep_their_order_and_their_pointers(
    mnist_digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, _ = mnist_digits
    files = [render(images[i], "png") for i in range(3)]
    batch = images_to_batch(files, MNIST, True)
    for i, image in enumerate(batch):
        assert np.argmin([distance(image, original) for original in images[:3]]) == i
    with pytest.raises(InvalidInput) as exc:
        images_to_batch([files[0], b"junk", files[1], b""], MNIST, True)
    assert [e.pointer for e in exc.value.errors] == ["/files/1", "/files/3"]
    assert exc.value.status == 400  # every problem is an undecodable upload


def test_upload_count_is_checked() -> None:
    with pytest.raises(InvalidInput) as exc:
        images_to_batch([], MNIST, True)
    assert only_error(exc)[0] == "/files"
    with pytest.raises(InvalidInput):
        images_to_batch([b"x"] * 3, MNIST, True, max_files=2)
