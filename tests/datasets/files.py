"""Real dataset files in every upload format, built from the bundled mnist-5k digits."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import numpy as np
from PIL import Image

from app.datasets.builtin import DATA_DIR


def mnist_subset(
    classes: tuple[int, ...] = (0, 1, 2), per_class: int = 20, skip: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` digits of each class after its first ``skip``: uint8 (N, 28, 28), labels."""
    with np.load(DATA_DIR / "mnist-5k.npz") as npz:
        images, labels = npz["images"], npz["labels"].astype(np.int64)
    keep = np.concatenate([np.flatnonzero(labels == c)[skip : skip + per_class] for c in classes])
    keep.sort()
    return images[keep].astype(np.uint8), labels[keep]


def npz_bytes(**arrays: object) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def csv_bytes(x: np.ndarray, y: np.ndarray, header: bool = True) -> bytes:
    """The Kaggle digit-recognizer layout: label, pixel0..pixel783."""
    flat = x.reshape(len(x), -1)
    lines = []
    if header:
        lines.append(",".join(["label", *[f"pixel{i}" for i in range(flat.shape[1])]]))
    for label, row in zip(y, flat, strict=True):
        lines.append(",".join([str(int(label)), *map(str, row.tolist())]))
    return ("\n".join(lines) + "\n").encode()


def idx_bytes(array: np.ndarray, gz: bool = False, dims: tuple[int, ...] | None = None) -> bytes:
    """The IDX format as published with MNIST: 0, 0, type 0x08 (ubyte), ndim, big-endian dims."""
    shape = dims or array.shape
    head = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    data = head + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    return gzip.compress(data) if gz else data


def photo_png(digit: np.ndarray, side: int = 200) -> bytes:
    """A 28x28 MNIST digit drawn black on white at side x side, like a scan of paper."""
    big = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def folders_zip(x: np.ndarray, y: np.ndarray, side: int = 200, root: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, (digit, label) in enumerate(zip(x, y, strict=True)):
            archive.writestr(f"{root}{int(label)}/{i:04d}.png", photo_png(digit, side))
    return out.getvalue()


def zip_with(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
    return out.getvalue()


def csv_with_targets(x: np.ndarray, columns: dict[str, np.ndarray]) -> bytes:
    """Named target columns (yes/no answers or float values) first, then pixel0..pixelN."""
    flat = x.reshape(len(x), -1)
    lines = [",".join([*columns, *[f"pixel{i}" for i in range(flat.shape[1])]])]
    for i, row in enumerate(flat):
        targets = [f"{float(v[i]):g}" for v in columns.values()]
        lines.append(",".join([*targets, *map(str, row.tolist())]))
    return ("\n".join(lines) + "\n").encode()


def yes_no_columns(y: np.ndarray) -> dict[str, np.ndarray]:
    """The built-in multilabel questions of each digit, under names of the uploader's own."""
    return {
        "is_even": (y % 2 == 0).astype(int),
        "big": (y >= 5).astype(int),
        "loop": np.isin(y, [0, 6, 8, 9]).astype(int),
    }
