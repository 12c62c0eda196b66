"""Decoding and MNIST-style preprocessing: pure numpy/Pillow, no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.inference.decoding.image import (
    MAX_PIXELS,
    decode_image,
    preprocess_digit,
)
from tests.fixtures.images import distance, encode, only_error, png_with_size

MNIST = (28, 28)
ROOT = Path(__file__).resolve().parents[2]


def stroke_image(
    dark_on_light: bool,
    size: tuple[int, int] = (100, 80),
    box: tuple[int, int, int, int] = (30, 20, 45, 70),
) -> np.ndarray:
    """A grey image with one thick vertical stroke (left, top, right, bottom)."""
    paper, ink = (250.0, 10.0) if dark_on_light else (5.0, 240.0)
    gray = np.full(size, paper, dtype=np.float32)
    left, top, right, bottom = box
    gray[top:bottom, left:right] = ink
    return gray


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / img.sum()), float((cols * img).sum() / img.sum())


# --- decode_image -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"definitely not an image", "not a PNG or JPEG"),
        (encode(Image.new("L", (10, 10)), "GIF"), "not a PNG or JPEG"),
        (encode(Image.new("L", (10, 10)), "BMP"), "not a PNG or JPEG"),
    ],
)
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


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (6_000, 6_000),  # above the limit: Pillow only warns, which we turn into an error
        (20_000, 20_000),  # above twice the limit: Pillow's own DecompressionBombError
        (MAX_PIXELS, 1),  # few pixels per row, but an absurd side
    ],
)
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        decode_image(png_with_size(width, height), "/files/0")
    pointer, text, status = only_error(exc)
    assert (pointer, status) == ("/files/0", 422)
    assert f"{MAX_PIXELS:,}" in text


def test_transparent_background_becomes_white_paper() -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)  # transparent black everywhere...
    rgba[4:6, 4:6] = (30, 30, 30, 255)  # ...but an opaque dark dot
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
    mnist_digits: tuple[np.ndarray, np.ndarray],
) -> None:
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
    assert out.shape == (8, 8) and out.min() >= 0 and out.max() <= 1
    assert out[0].max() > 0 and out[7].max() > 0  # top to bottom
    assert out[:, 0].max() == 0 and out[:, 7].max() == 0  # a narrow stroke stays centred


def test_the_api_side_modules_never_import_tensorflow() -> None:
    code = (
        "import sys, app.inference, app.inference.decoding.image, app.inference.decoding.instance, "
        "app.inference.cache, "
        "app.inference.predictor; assert 'tensorflow' not in sys.modules, 'tensorflow'; "
        "assert 'keras' not in sys.modules, 'keras'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
