"""Decoding, MNIST-style preprocessing and request parsing: pure numpy/Pillow, no TensorFlow."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.inference.preprocess import (
    MAX_PIXELS,
    decode_image,
    images_to_batch,
    parse_instances,
    preprocess_digit,
)
from app.training.datasets import DATA_DIR
from tests.inference.images import encode, png_with_size, render

MNIST = (28, 28)
ROOT = Path(__file__).resolve().parents[2]


def b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode()}


def stroke_image(dark_on_light: bool, size: tuple[int, int] = (100, 80),
                 box: tuple[int, int, int, int] = (30, 20, 45, 70)) -> np.ndarray:
    """A grey image with one thick vertical stroke (left, top, right, bottom)."""
    paper, ink = (250.0, 10.0) if dark_on_light else (5.0, 240.0)
    gray = np.full(size, paper, dtype=np.float32)
    left, top, right, bottom = box
    gray[top:bottom, left:right] = ink
    return gray


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / img.sum()), float((cols * img).sum() / img.sum())


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference, forgiving the one-pixel shifts that MNIST's own
    centring leaves (its centres of mass are only within half a pixel of the centre)."""
    return min(float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean())
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def only_error(exc: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str, int]:
    assert len(exc.value.errors) == 1
    err = exc.value.errors[0]
    assert err.hint, "every error says how to fix it"
    return err.pointer, err.message, exc.value.status


@pytest.fixture(scope="module")
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA_DIR / "mnist-5k.npz") as npz:
        return npz["images"][:50].astype(np.float32) / 255.0, npz["labels"][:50]


# --- decode_image -------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"definitely not an image", "not a PNG or JPEG"),
    (encode(Image.new("L", (10, 10)), "GIF"), "not a PNG or JPEG"),
    (encode(Image.new("L", (10, 10)), "BMP"), "not a PNG or JPEG"),
])
def test_undecodable_data_is_a_400_naming_the_upload(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        decode_image(data, "/files/2")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/files/2", 400)
    assert message in text


def test_truncated_png_is_refused() -> None:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    data = encode(noisy)
    with pytest.raises(InvalidInput) as exc:
        decode_image(data[: len(data) // 2], "/files/0")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/files/0", 400)
    assert "truncated" in text


def test_animated_png_is_refused() -> None:
    frames = [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)]
    data = encode(frames[0], save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidInput) as exc:
        decode_image(data, "/instances/1")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/1", 422)
    assert "animated (2 frames)" in text


def test_sixteen_bit_png_is_refused() -> None:
    data = encode(Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)))
    with pytest.raises(InvalidInput) as exc:
        decode_image(data, "/files/0")
    _, text, status = only_error(exc)
    assert status == 422 and "16-bit" in text


@pytest.mark.parametrize("width, height", [
    (6_000, 6_000),      # above the limit: Pillow only warns, which we turn into an error
    (20_000, 20_000),    # above twice the limit: Pillow's own DecompressionBombError
    (MAX_PIXELS, 1),     # few pixels per row, but an absurd side
])
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        decode_image(png_with_size(width, height), "/files/0")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/files/0", 422)
    assert f"{MAX_PIXELS:,}" in text


def test_transparent_background_becomes_white_paper() -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)  # transparent black everywhere...
    rgba[4:6, 4:6] = (30, 30, 30, 255)             # ...but an opaque dark dot
    gray = decode_image(encode(Image.fromarray(rgba)), "/files/0")
    assert gray.shape == (10, 10) and gray.dtype == np.float32
    assert gray[0, 0] == 255 and gray[5, 5] == 30


def test_palette_transparency_and_cmyk_jpeg_decode() -> None:
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([0, 0, 0, 255, 255, 255])
    pal.info["transparency"] = 0
    assert decode_image(encode(pal, transparency=0), "/files/0").min() == 255
    cmyk = encode(Image.new("CMYK", (4, 4), (0, 0, 0, 255)), "JPEG")
    assert decode_image(cmyk, "/files/0").max() < 30


def test_exif_rotation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif)
    assert decode_image(data, "/files/0").shape == (40, 20)


# --- preprocess_digit ---------------------------------------------------------------------

def test_dark_on_light_is_inverted_like_light_on_dark() -> None:
    dark = preprocess_digit(stroke_image(dark_on_light=True), MNIST)
    light = preprocess_digit(stroke_image(dark_on_light=False), MNIST)
    assert dark.shape == MNIST and dark.dtype == np.float32
    assert dark[0, 0] == 0 and dark.max() == pytest.approx(1.0)
    np.testing.assert_allclose(dark, light, atol=1e-5)


def test_off_centre_ink_is_scaled_to_20_and_centred_by_mass() -> None:
    gray = stroke_image(True, size=(300, 300), box=(5, 10, 60, 40))  # wide bar, top-left
    out = preprocess_digit(gray, MNIST)
    rows, cols = np.flatnonzero(out.max(axis=1) > 0), np.flatnonzero(out.max(axis=0) > 0)
    assert cols[-1] - cols[0] + 1 == 20  # longest side fits the 20x20 box
    assert rows[-1] - rows[0] + 1 < 20
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_hairline_strokes_are_widened_to_mnist_strokes() -> None:
    out = preprocess_digit(stroke_image(True, size=(200, 200), box=(100, 20, 103, 180)), MNIST)
    middle_rows = out[8:20]
    assert ((middle_rows >= 0.5).sum(axis=1) >= 2).all()  # not a faint one-pixel line


def test_small_models_keep_hairlines_too() -> None:
    out = preprocess_digit(stroke_image(True, size=(400, 400), box=(200, 20, 202, 380)), (8, 8))
    assert (out[:, 3:5] >= 0.25).all()  # a solid line down the middle, not a vanished one


def test_a_centred_mnist_digit_comes_back_almost_unchanged(
        mnist_digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = mnist_digits
    distances = [distance(preprocess_digit(image * 255, MNIST), image) for image in images]
    assert np.median(distances) < 0.01


def test_blank_images_are_refused_with_a_hint() -> None:
    noise = 200 + np.random.default_rng(1).integers(0, 8, (50, 50)).astype(np.float32)
    with pytest.raises(InvalidInput) as exc:
        preprocess_digit(noise, MNIST, pointer="/instances/4")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/4", 422)
    assert "blank" in text and "contrast" in exc.value.errors[0].hint


def test_small_models_get_the_ink_filling_the_whole_box() -> None:
    out = preprocess_digit(stroke_image(True, size=(200, 200), box=(120, 20, 150, 180)), (8, 8))
    assert out.shape == (8, 8) and 0 <= out.min() and out.max() <= 1
    assert out[0].max() > 0 and out[7].max() > 0  # top to bottom
    assert out[:, 0].max() == 0 and out[:, 7].max() == 0  # a narrow stroke stays centred


# --- parse_instances ----------------------------------------------------------------------

def test_nested_flat_and_channel_lists_give_the_same_batch() -> None:
    pixels = np.arange(784).reshape(28, 28) % 256
    batch = parse_instances([pixels.tolist(), pixels.ravel().tolist(),
                             pixels[..., None].tolist(), (pixels / 255).tolist()],
                            MNIST, preprocess=True, max_instances=10)
    assert batch.shape == (4, 28, 28) and batch.dtype == np.float32
    for image in batch:
        np.testing.assert_allclose(image, pixels / 255, atol=1e-6)  # arrays are not centred


def test_unit_range_pixels_are_kept_as_they_are() -> None:
    ones = np.eye(28).tolist()
    np.testing.assert_array_equal(parse_instances([ones], MNIST, True, 1)[0], np.eye(28))


@pytest.mark.parametrize("instance, message", [
    (np.zeros((27, 28)).tolist(), "expected 28x28 nested list or 784 flat pixels, got 27x28"),
    ([0] * 783, "got 783 flat pixels"),
    ([[0] * 28] * 27 + [[0] * 27], "rows of different lengths"),
    ([["0"] * 28] * 28, "text"),
    ([[None] * 28] * 28, "non-numeric"),
    ("pixels", "got str"),
    ({"pixels": []}, "keys ['pixels']"),
])
def test_malformed_instances_say_what_the_model_expects(instance: object, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances([np.zeros((28, 28)).tolist(), instance], MNIST, True, 5)
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/1", 422)
    assert message in text


@pytest.mark.parametrize("value, pointer, message", [
    (float("nan"), "/instances/0/3/5", "NaN"),
    (float("inf"), "/instances/0/3/5", "infinite"),
    (-1, "/instances/0/3/5", "negative"),
    (256, "/instances/0/3/5", "above 255"),
])
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


@pytest.mark.parametrize("instances, message", [
    ([], "instances is empty"),
    ([[0] * 784] * 4, "4 instances; the limit is 3"),
    ({"b64": ""}, "got dict"),
])
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
        mnist_digits: tuple[np.ndarray, np.ndarray]) -> None:
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
    np.testing.assert_allclose(parse_instances([b64(rgb_gray)], MNIST, False, 5)[0], pixels / 255,
                               atol=1e-6)


@pytest.mark.parametrize("img, message", [
    (Image.new("L", (28, 27)), "the image is 27x28 (HxW); the model expects 28x28"),
    (Image.new("RGB", (28, 28), (255, 0, 0)), "colour or transparency"),
    (Image.new("LA", (28, 28), (0, 0)), "colour or transparency"),
])
def test_preprocess_none_refuses_images_that_are_not_model_pixels(img: Image.Image,
                                                                   message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_instances([b64(encode(img))], MNIST, False, 5)
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/instances/0", 422) and message in text


# --- images_to_batch ----------------------------------------------------------------------

def test_uploads_keep_their_order_and_their_pointers(
        mnist_digits: tuple[np.ndarray, np.ndarray]) -> None:
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


def test_the_api_side_modules_never_import_tensorflow() -> None:
    code = ("import sys, app.inference, app.inference.preprocess, app.inference.cache, "
            "app.inference.predictor; assert 'tensorflow' not in sys.modules, 'tensorflow'; "
            "assert 'keras' not in sys.modules, 'keras'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
