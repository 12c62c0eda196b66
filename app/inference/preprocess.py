"""From what clients send (pixel lists, PNG/JPEG bytes) to model input: (N, H, W) float32 in [0, 1].

numpy and Pillow only: the API process imports this without paying for TensorFlow.
Every rejection is an ``InvalidInput`` whose pointer names the instance (``/instances/3``)
or upload (``/files/0``) and whose hint says how to fix it.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from app.errors import FieldError, InvalidInput

Shape = tuple[int, int]
T = TypeVar("T")

FORMATS = ("PNG", "JPEG")
# 25 MP covers any phone photo of a digit while refusing decompression bombs early.
MAX_PIXELS = 25_000_000
MAX_SIDE = 20_000
# Pillow reads this global when opening; lowering it makes its own bomb check match ours.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_SIXTEEN_BIT_MODES = ("I", "F")  # prefixes: also covers "I;16", "I;16B", "I;16L", ...
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
MIN_CONTRAST = 24.0  # grey levels between paper and ink below which an image counts as blank
NOISE_FLOOR = 0.2  # fraction of full ink below which pixels are paper texture or JPEG ringing
MNIST_BOX = 20 / 28  # MNIST digits fit a 20x20 box inside the 28x28 field
DIGITS_SUPERSAMPLE = 4  # UCI digits: 32x32 bitmaps counted in 4x4 blocks down to 8x8
# Stroke width over glyph size: 95% of MNIST digits are thicker than MIN_STROKE, the median
# is TARGET_STROKE. Pens in photos draw far thinner lines, which shrink to faint hairlines.
MIN_STROKE = 0.10
TARGET_STROKE = 0.16
SMALL_MODEL_SIDE = 16  # below this, models are digits-like (ink fills the box), else MNIST-like
WORKING_SIDE = 1024  # uploads are shrunk to this before preprocessing; 20x20 is the target


# --- images -------------------------------------------------------------------------------

def decode_image(data: bytes, pointer: str, *, max_side: int | None = None) -> np.ndarray:
    """A PNG or JPEG as a 2-D float32 grayscale array in [0, 255]; transparency becomes paper.

    ``max_side`` shrinks bigger images (aspect kept) while decoding: a digit needs a few
    hundred pixels, and a 25 MP photo would cost 100 MB of float32 and seconds of CPU.
    """
    gray = _to_gray(_open_image(data, pointer, draft_side=max_side))
    if max_side is not None and max(gray.size) > max_side:
        gray.thumbnail((max_side, max_side), Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.float32)


def _open_image(data: bytes, pointer: str, draft_side: int | None = None) -> Image.Image:
    if not data:
        raise _undecodable(pointer, "the image is empty (0 bytes)")
    try:
        # catch_warnings is process-global, hence the explicit size check in _check_header too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(pointer, f"more than {MAX_PIXELS:,} pixels") from exc
    except Image.UnidentifiedImageError as exc:
        raise _undecodable(pointer, "the data is not a PNG or JPEG image") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _undecodable(pointer, f"the image header is damaged ({exc})") from exc
    _check_header(img, pointer)
    if draft_side is not None and img.format == "JPEG":
        img.draft(img.mode, (draft_side, draft_side))  # JPEG decodes at 1/2, 1/4, 1/8 for free
    try:
        img.load()  # Pillow decodes lazily: truncated data only shows up here
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _undecodable(pointer, f"the image data is truncated or damaged ({exc})") from exc
    return img


def _check_header(img: Image.Image, pointer: str) -> None:
    width, height = img.size
    if width < 1 or height < 1:
        raise _undecodable(pointer, f"the image is {width}x{height} pixels")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise _too_large(pointer, f"{width}x{height} pixels")
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        raise InvalidInput("Animated images are not supported.", [FieldError(
            pointer, f"the image is animated ({frames} frames)",
            "send a single still frame as PNG or JPEG")])
    if img.mode.startswith(_SIXTEEN_BIT_MODES):
        raise InvalidInput("16-bit and floating-point images are not supported.", [FieldError(
            pointer, f"the image has {img.mode} pixels (16-bit or float)",
            "save it as an 8-bit grayscale or RGB PNG or JPEG")])


def _to_gray(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img)  # phones store rotation in EXIF, not in the pixels
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    elif img.mode not in ("1", "L", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, palettes: via RGB, which every mode converts to
    return img.convert("L")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def _is_opaque_gray(img: Image.Image) -> bool:
    if _has_alpha(img):
        alpha = np.asarray(img.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            return False
    if img.mode in ("1", "L", "LA"):
        return True
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _undecodable(pointer: str, message: str) -> InvalidInput:
    return InvalidInput("An image could not be decoded.", [FieldError(
        pointer, message, "send a complete, valid PNG or JPEG file")], status=400)


def _too_large(pointer: str, size: str) -> InvalidInput:
    return InvalidInput("An image is too large.", [FieldError(
        pointer, f"the image has {size}; the limit is {MAX_PIXELS:,} pixels, {MAX_SIDE:,} per side",
        "scale it down; a few hundred pixels per side is plenty")])


# --- MNIST-style preprocessing ------------------------------------------------------------

def preprocess_digit(gray: np.ndarray, size: Shape, *, pointer: str = "") -> np.ndarray:
    """A photo or scan of one digit, as the model's training images look: float32 in [0, 1].

    Ink becomes bright on black, is cropped to its bounding box and scaled: for 28x28 models
    to fit 20x20 and then placed so its centre of mass is at the centre (the MNIST recipe);
    for small models (8x8 ``digits``) to fill the whole box, as the UCI digits do.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D grayscale array, got shape {gray.shape}")
    glyph = _crop_to_ink(_ink_map(gray, pointer))
    if max(size) < SMALL_MODEL_SIDE:
        return _fill_box(glyph, size)
    return _centre_by_mass(glyph, size)


def _ink_map(gray: np.ndarray, pointer: str) -> np.ndarray:
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    darkest, brightest = float(gray.min()), float(gray.max())
    # Paper nearer the bright end than the dark end: the ink is the dark part, so invert.
    ink = paper - gray if paper - darkest > brightest - paper else gray - paper
    contrast = float(ink.max())
    if contrast < MIN_CONTRAST:
        raise InvalidInput("An image shows no digit.", [FieldError(
            pointer, f"the image is blank: ink and background differ by {contrast:.0f} of 255 "
                     "grey levels",
            "send one digit written with clear contrast to its background")])
    ink = np.clip(ink / contrast, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    return ink


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit(glyph: np.ndarray, box: Shape) -> np.ndarray:
    """Scaled, aspect kept, so that it just fits ``box``; values stay in [0, 1]."""
    height, width = glyph.shape
    scale = min(box[0] / height, box[1] / width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(glyph.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _centre_by_mass(glyph: np.ndarray, size: Shape) -> np.ndarray:
    box = max(1, round(min(size) * MNIST_BOX))
    small = _fit(_thicken(glyph, box), (box, box))
    small /= max(float(small.max()), 1e-6)  # thin strokes fade when shrunk; MNIST ink peaks at 1
    rows, cols = np.indices(small.shape)
    mass = float(small.sum())
    centre_row, centre_col = (rows * small).sum() / mass, (cols * small).sum() / mass
    # MNIST's centre of mass sits at (14.0, 14.0) in 28x28: the index size / 2, not 13.5.
    top = _clamp(round(size[0] / 2 - centre_row), size[0] - small.shape[0])
    left = _clamp(round(size[1] / 2 - centre_col), size[1] - small.shape[1])
    canvas = np.zeros(size, dtype=np.float32)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def _thicken(glyph: np.ndarray, box: int) -> np.ndarray:
    """Widens thin strokes to MNIST's usual width, working at 4x the final size to stay cheap."""
    ratio = _stroke_ratio(glyph)
    if ratio >= MIN_STROKE:
        return glyph
    fine = _fit(glyph, (4 * box, 4 * box))
    grow = round((TARGET_STROKE - ratio) * max(fine.shape))
    if grow < 1:
        return glyph
    room = np.pad(fine, grow)  # the filter cannot grow ink past the image's edge
    widened = Image.fromarray(room).filter(ImageFilter.MaxFilter(grow | 1))  # odd, >= grow
    return _crop_to_ink(np.asarray(widened, dtype=np.float32))


def _stroke_ratio(glyph: np.ndarray) -> float:
    # A stroke of width w and length L has area w*L and about 2*L edge pixels.
    ink = np.pad(glyph >= 0.5, 1)
    interior = (ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1]
                & ink[1:-1, :-2] & ink[1:-1, 2:])
    area = int(ink.sum())
    edge = area - int(interior.sum())
    return 2 * area / max(edge, 1) / max(glyph.shape)


def _fill_box(glyph: np.ndarray, size: Shape) -> np.ndarray:
    k = DIGITS_SUPERSAMPLE
    # Grey levels, not UCI's on/off bitmap: averaging them estimates the same block counts
    # from anti-aliased input, without the rounding a threshold adds.
    fine = _fit(_thicken(glyph, max(size)), (size[0] * k, size[1] * k))
    canvas = np.zeros((size[0] * k, size[1] * k), dtype=np.float32)
    top, left = (canvas.shape[0] - fine.shape[0]) // 2, (canvas.shape[1] - fine.shape[1]) // 2
    canvas[top:top + fine.shape[0], left:left + fine.shape[1]] = fine
    # Mean of each k x k block: the UCI "count of set pixels per 4x4 block", scaled to [0, 1].
    return canvas.reshape(size[0], k, size[1], k).mean(axis=(1, 3)).astype(np.float32)


def _clamp(value: int, upper: int) -> int:
    return min(max(value, 0), max(upper, 0))


# --- request bodies -----------------------------------------------------------------------

def parse_instances(instances: Any, shape: Shape, preprocess: bool,
                    max_instances: int) -> np.ndarray:
    """JSON ``instances`` as a (N, H, W) float32 batch in [0, 1]; reports every bad instance."""
    if not isinstance(instances, list):
        raise InvalidInput("instances must be a list.", [FieldError(
            "/instances", f"got {type(instances).__name__}", 'send {"instances": [...]}')])
    _check_count(len(instances), max_instances, "/instances", "instances")
    return _batch(instances, lambda item, at: _parse_instance(item, shape, preprocess, at),
                  "instances")


def images_to_batch(files: list[bytes], shape: Shape, preprocess: bool,
                    max_files: int | None = None) -> np.ndarray:
    """Uploaded PNG/JPEG files as a (N, H, W) float32 batch, in upload order."""
    _check_count(len(files), max_files, "/files", "files")
    return _batch(files, lambda data, at: _image_instance(data, shape, preprocess, at), "files")


def _check_count(count: int, limit: int | None, pointer: str, what: str) -> None:
    if count == 0:
        raise InvalidInput(f"No {what} to predict.", [FieldError(
            pointer, f"{what} is empty", f"send at least one of the {what}")])
    if limit is not None and count > limit:
        raise InvalidInput(f"Too many {what}: {count}, at most {limit} per request.", [FieldError(
            pointer, f"{count} {what}; the limit is {limit}",
            f"split them into requests of at most {limit}")])


def _batch(items: Sequence[T], parse: Callable[[T, str], np.ndarray], what: str) -> np.ndarray:
    """Parses every item so that one answer reports all bad ones, each under /<what>/<index>."""
    arrays: list[np.ndarray] = []
    problems: list[InvalidInput] = []
    for index, item in enumerate(items):
        try:
            arrays.append(parse(item, f"/{what}/{index}"))
        except InvalidInput as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        status = 400 if all(p.status == 400 for p in problems) else 422
        raise InvalidInput(f"{len(problems)} of {len(items)} {what} are invalid; see errors.",
                           [e for p in problems for e in p.errors], status=status)
    return np.stack(arrays).astype(np.float32, copy=False)


def _parse_instance(item: Any, shape: Shape, preprocess: bool, pointer: str) -> np.ndarray:
    if isinstance(item, dict):
        return _image_instance(_b64_bytes(item, pointer), shape, preprocess, pointer)
    if isinstance(item, list):
        return _pixel_instance(item, shape, pointer)
    raise InvalidInput("An instance has the wrong type.", [FieldError(
        pointer, f"got {type(item).__name__}", _expected_forms(shape))])


def _b64_bytes(item: dict[str, Any], pointer: str) -> bytes:
    text = item.get("b64")
    if set(item) != {"b64"} or not isinstance(text, str):
        raise InvalidInput("An image instance must be {\"b64\": \"...\"}.", [FieldError(
            pointer, f"got an object with keys {sorted(item)}",
            'send {"b64": "<base64 of a PNG or JPEG file>"} and nothing else')])
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]  # tolerate data URLs copied from a browser
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("An image is not valid base64.", [FieldError(
            f"{pointer}/b64", f"not valid base64 ({exc})",
            "encode the file bytes with standard base64 (RFC 4648)")], status=400) from exc


def _image_instance(data: bytes, shape: Shape, preprocess: bool, pointer: str) -> np.ndarray:
    if preprocess:
        gray = decode_image(data, pointer, max_side=WORKING_SIDE)
        return preprocess_digit(gray, shape, pointer=pointer)
    img = _open_image(data, pointer)
    if img.size != (shape[1], shape[0]):
        raise InvalidInput("An image has the wrong size for preprocess=none.", [FieldError(
            pointer, f"the image is {img.size[1]}x{img.size[0]} (HxW); the model expects "
                     f"{shape[0]}x{shape[1]}",
            "resize it yourself, or drop preprocess=none to let the service centre and scale it")])
    if not _is_opaque_gray(img):
        raise InvalidInput("An image is not opaque grayscale, as preprocess=none requires.", [
            FieldError(pointer, f"the image is {img.mode} with colour or transparency",
                       "save it as 8-bit grayscale without alpha, light ink on black, "
                       "or drop preprocess=none")])
    return np.asarray(_to_gray(img), dtype=np.float32) / 255.0


def _pixel_instance(item: list[Any], shape: Shape, pointer: str) -> np.ndarray:
    try:
        pixels = np.asarray(item)
    except ValueError as exc:  # ragged nesting
        raise _bad_shape(pointer, shape, "rows of different lengths") from exc
    if pixels.dtype.kind not in "iuf":
        raise InvalidInput("An instance has pixels that are not numbers.", [FieldError(
            pointer, f"found {_kind_name(pixels)} values", "send numbers only: 0-255 or 0-1")])
    flat = pixels.ndim == 1
    pixels = _to_model_shape(pixels, shape, pointer).astype(np.float64)
    _check_pixel_values(pixels, pointer, flat=flat)
    return to_unit_range(pixels[np.newaxis])[0]


def to_unit_range(batch: np.ndarray) -> np.ndarray:
    """(N, H, W) pixels already checked to lie in 0-255 → float32 [0, 1]. Each image picks its
    own scale: 0-255 when any of its pixels is above 1, else it is taken as 0-1 already."""
    batch = batch.astype(np.float32, copy=False)
    peaks = batch.reshape(len(batch), -1).max(axis=1)
    scale = np.where(peaks > 1.0, np.float32(255.0), np.float32(1.0))
    return batch / scale[:, None, None]


def _to_model_shape(pixels: np.ndarray, shape: Shape, pointer: str) -> np.ndarray:
    height, width = shape
    if pixels.shape in ((height, width), (height, width, 1)):
        return pixels.reshape(shape)
    if pixels.shape == (height * width,):
        return pixels.reshape(shape)
    got = f"{pixels.size} flat pixels" if pixels.ndim == 1 else "x".join(map(str, pixels.shape))
    raise _bad_shape(pointer, shape, got)


def _check_pixel_values(pixels: np.ndarray, pointer: str, flat: bool) -> None:
    checks = ((~np.isfinite(pixels), "is NaN or infinite"),
              (pixels < 0, "is negative"),
              (pixels > 255, "is above 255"))
    for bad, message in checks:
        if bad.any():
            row, col = np.argwhere(bad)[0]
            at = f"{pointer}/{row * pixels.shape[1] + col}" if flat else f"{pointer}/{row}/{col}"
            raise InvalidInput("An instance has an out-of-range pixel.", [FieldError(
                at, f"pixel value {pixels[row, col]} {message}",
                "use 0-255 integers or 0-1 floats")])


def _bad_shape(pointer: str, shape: Shape, got: str) -> InvalidInput:
    return InvalidInput("An instance has the wrong shape.", [FieldError(
        pointer, f"expected {shape[0]}x{shape[1]} nested list or {shape[0] * shape[1]} flat "
                 f"pixels, got {got}", _expected_forms(shape))])


def _expected_forms(shape: Shape) -> str:
    return (f"send a {shape[0]}x{shape[1]} nested list of pixels, a flat list of "
            f"{shape[0] * shape[1]} pixels, or {{\"b64\": \"<base64 PNG/JPEG>\"}}")


def _kind_name(pixels: np.ndarray) -> str:
    return {"b": "true/false", "U": "text", "S": "text"}.get(pixels.dtype.kind, "non-numeric")
