"""From image bytes to model pixels: decoding PNG/JPEG safely, the MNIST recipe, the pixel scale.

numpy and Pillow only: the API process imports this without paying for TensorFlow.
Every rejection is an ``InvalidInput`` whose pointer names the instance (``/instances/3``)
or upload (``/files/0``) given by the caller, and whose hint says how to fix it.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from app.errors import FieldError, InvalidInput
from app.inference.decoding.png import open_plain_png

Shape = tuple[int, int]

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
    plain = open_plain_png(data)  # small plain PNGs, most uploads: ~18 µs less than Image.open
    if plain is not None:
        return plain  # a few kpixel, 8-bit, one frame: nothing _check_header would refuse
    if not data:
        raise _undecodable(pointer, "the image is empty (0 bytes)")
    try:
        # catch_warnings is process-global, hence the explicit size check in _check_header too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(pointer, f"more than {MAX_PIXELS:,} pixels") from exc
    except UnidentifiedImageError as exc:
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
        raise InvalidInput(
            "Animated images are not supported.",
            [
                FieldError(
                    pointer,
                    f"the image is animated ({frames} frames)",
                    "send a single still frame as PNG or JPEG",
                )
            ],
        )
    if img.mode.startswith(_SIXTEEN_BIT_MODES):
        raise InvalidInput(
            "16-bit and floating-point images are not supported.",
            [
                FieldError(
                    pointer,
                    f"the image has {img.mode} pixels (16-bit or float)",
                    "save it as an 8-bit grayscale or RGB PNG or JPEG",
                )
            ],
        )


def _to_gray(img: Image.Image) -> Image.Image:
    if img.info:  # Pillow reads the orientation from info only: none there, none to apply (3 µs)
        ImageOps.exif_transpose(img, in_place=True)  # phones store rotation in EXIF, not pixels
    if img.mode == "L":
        return img
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
    return InvalidInput(
        "An image could not be decoded.",
        [FieldError(pointer, message, "send a complete, valid PNG or JPEG file")],
        status=400,
    )


def _too_large(pointer: str, size: str) -> InvalidInput:
    return InvalidInput(
        "An image is too large.",
        [
            FieldError(
                pointer,
                f"the image has {size}; the limit is {MAX_PIXELS:,} pixels, {MAX_SIDE:,} per side",
                "scale it down; a few hundred pixels per side is plenty",
            )
        ],
    )


def image_as_model_pixels(data: bytes, shape: Shape, pointer: str) -> np.ndarray:
    """``preprocess=none``: an image that already is the model's input, float32 in [0, 1]."""
    img = _open_image(data, pointer)
    if img.size != (shape[1], shape[0]):
        raise InvalidInput(
            "An image has the wrong size for preprocess=none.",
            [
                FieldError(
                    pointer,
                    f"the image is {img.size[1]}x{img.size[0]} (HxW); the model expects "
                    f"{shape[0]}x{shape[1]}",
                    "resize it yourself, or drop preprocess=none to let the service centre and scale it",
                )
            ],
        )
    if not _is_opaque_gray(img):
        raise InvalidInput(
            "An image is not opaque grayscale, as preprocess=none requires.",
            [
                FieldError(
                    pointer,
                    f"the image is {img.mode} with colour or transparency",
                    "save it as 8-bit grayscale without alpha, light ink on black, "
                    "or drop preprocess=none",
                )
            ],
        )
    return np.asarray(_to_gray(img), dtype=np.float32) / 255.0


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
    paper = _median(border)
    darkest, brightest = float(gray.min()), float(gray.max())
    # Paper nearer the bright end than the dark end: the ink is the dark part, so invert.
    inverted = paper - darkest > brightest - paper
    ink = paper - gray if inverted else gray - paper
    # ink.max() without a pass over the image: float32 rounding is monotonic, so the largest
    # difference is the one with the extreme pixel, computed in float32 as ``ink`` was.
    extreme = np.float32(darkest if inverted else brightest)
    contrast = float(np.float32(paper) - extreme if inverted else extreme - np.float32(paper))
    if contrast < MIN_CONTRAST:
        raise InvalidInput(
            "An image shows no digit.",
            [
                FieldError(
                    pointer,
                    f"the image is blank: ink and background differ by {contrast:.0f} of 255 "
                    "grey levels",
                    "send one digit written with clear contrast to its background",
                )
            ],
        )
    # No np.clip (~3 µs): nothing exceeds contrast / contrast = 1, and the noise floor below
    # zeroes the negatives (pixels beyond the paper's shade) as clipping them to 0 did.
    ink /= contrast
    ink[ink < NOISE_FLOOR] = 0.0
    return ink


def _median(values: np.ndarray) -> float:
    # np.median's generality costs ~12 us per call, a tenth of a small image's whole recipe.
    ordered = np.sort(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (float(ordered[middle - 1]) + float(ordered[middle])) / 2


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    # Ink is never negative, so "some pixel > 0" is "max > 0"; one comparison and two boolean
    # reductions instead of two float max reductions and flatnonzero (15 -> ~6 µs at 28x28).
    inked = ink > 0
    rows = np.logical_or.reduce(inked, axis=1).nonzero()[0]
    cols = np.logical_or.reduce(inked, axis=0).nonzero()[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit(glyph: np.ndarray, box: Shape) -> np.ndarray:
    """Scaled, aspect kept, so that it just fits ``box``; values stay in [0, 1]."""
    height, width = glyph.shape
    scale = min(box[0] / height, box[1] / width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new_size == (width, height):
        # Pillow's resize to the same size is a copy: skip the round trip through an "F"
        # image (~20 µs; MNIST-like uploads, whose glyph already fills the 20x20 box).
        glyph = glyph.astype(np.float32, copy=False)
        return np.minimum(np.maximum(glyph, 0.0), 1.0)
    resized = Image.fromarray(glyph.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    # LANCZOS rings slightly past [0, 1]; minimum/maximum are cheaper than np.clip here.
    return np.minimum(np.maximum(np.asarray(resized, dtype=np.float32), 0.0), 1.0)


def _centre_by_mass(glyph: np.ndarray, size: Shape) -> np.ndarray:
    box = max(1, round(min(size) * MNIST_BOX))
    small = _fit(_thicken(glyph, box), (box, box))
    small /= max(float(small.max()), 1e-6)  # thin strokes fade when shrunk; MNIST ink peaks at 1
    by_row, by_col = small.sum(axis=1), small.sum(axis=0)
    mass = float(by_row.sum())
    centre_row = float(by_row @ np.arange(len(by_row), dtype=np.float32)) / mass
    centre_col = float(by_col @ np.arange(len(by_col), dtype=np.float32)) / mass
    # MNIST's centre of mass sits at (14.0, 14.0) in 28x28: the index size / 2, not 13.5.
    top = _clamp(round(size[0] / 2 - centre_row), size[0] - small.shape[0])
    left = _clamp(round(size[1] / 2 - centre_col), size[1] - small.shape[1])
    canvas = np.zeros(size, dtype=np.float32)
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
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
    ink = np.zeros((glyph.shape[0] + 2, glyph.shape[1] + 2), dtype=bool)
    np.greater_equal(glyph, 0.5, out=ink[1:-1, 1:-1])
    interior = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    area = int(np.count_nonzero(ink))  # counting, not summing, booleans: ~3x cheaper
    edge = area - int(np.count_nonzero(interior))
    return 2 * area / max(edge, 1) / max(glyph.shape)


def _fill_box(glyph: np.ndarray, size: Shape) -> np.ndarray:
    k = DIGITS_SUPERSAMPLE
    # Grey levels, not UCI's on/off bitmap: averaging them estimates the same block counts
    # from anti-aliased input, without the rounding a threshold adds.
    fine = _fit(_thicken(glyph, max(size)), (size[0] * k, size[1] * k))
    canvas = np.zeros((size[0] * k, size[1] * k), dtype=np.float32)
    top, left = (canvas.shape[0] - fine.shape[0]) // 2, (canvas.shape[1] - fine.shape[1]) // 2
    canvas[top : top + fine.shape[0], left : left + fine.shape[1]] = fine
    # Mean of each k x k block: the UCI "count of set pixels per 4x4 block", scaled to [0, 1].
    return canvas.reshape(size[0], k, size[1], k).mean(axis=(1, 3)).astype(np.float32)


def _clamp(value: int, upper: int) -> int:
    return min(max(value, 0), max(upper, 0))


# --- pixel scale -------------------------------------------------------------------------


def to_unit_range(batch: np.ndarray) -> np.ndarray:
    """(N, H, W) pixels already checked to lie in 0-255 → float32 [0, 1]. Each image picks its
    own scale: 0-255 when any of its pixels is above 1, else it is taken as 0-1 already."""
    batch = batch.astype(np.float32, copy=False)
    if len(batch) == 1:
        # One image (most requests): the same scale without the per-image reductions and
        # broadcasts (~20 µs of ~0.1 ms for a JSON body); bit-identical.
        return batch / np.float32(255.0) if batch.max() > 1.0 else batch
    peaks = batch.reshape(len(batch), -1).max(axis=1)
    scale = np.where(peaks > 1.0, np.float32(255.0), np.float32(1.0))
    return batch / scale[:, None, None]
