"""A zip of class folders (``0/a.png``, ``1/b.jpg``, ...): photos or scans of any size.

By default each image goes through the MNIST recipe that predictions use, so a model sees
in training what it will see when asked to predict; ``preprocess=none`` keeps the pixels
(all images one size, or resized to a declared ``size``). Zips are checked before anything
is inflated: file count, total size, names that climb out of the archive, and symlinks.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.datasets.formats.common import (
    Converted,
    ImageReader,
    Limits,
    Options,
    Part,
    bad,
    finish,
)
from app.errors import escape_pointer_token

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_SIZE = (28, 28)
_IGNORED_PREFIXES = ("__MACOSX/",)
_IGNORED_NAMES = ("Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    label: int
    pointer: str


def convert(part: Part, options: Options, limits: Limits) -> Converted:
    part.stream.seek(0)
    try:
        with zipfile.ZipFile(part.stream) as archive:
            members = _members(part, archive.infolist(), limits)
            x = _images(archive, members, options)
    except zipfile.BadZipFile as exc:
        raise bad(
            part.pointer, f"the zip archive is damaged ({exc})", "zip the folders again"
        ) from exc
    y = np.array([m.label for m in members], dtype=np.int64)
    return finish(x, y, x_pointer=part.pointer, y_pointer=part.pointer)


def is_folder_zip(names: list[str]) -> bool:
    return not any(n.endswith(".npy") for n in names)


def _members(part: Part, infos: list[zipfile.ZipInfo], limits: Limits) -> list[Member]:
    files = [i for i in infos if not _ignored(i)]
    for info in files:
        _check_safe(part, info)
    if len(files) > limits.max_files:
        raise bad(
            part.pointer,
            f"the zip holds {len(files):,} files, over the limit of {limits.max_files:,}",
            "upload fewer images, or split them into several datasets",
            detail="The zip archive holds more files than this service accepts.",
        )
    total = sum(i.file_size for i in files)
    if total > limits.max_uncompressed_bytes:
        raise bad(
            part.pointer,
            f"the zip unpacks to {total:,} bytes, over the limit of "
            f"{limits.max_uncompressed_bytes:,}",
            "upload smaller images or fewer of them",
            detail="The zip archive unpacks to more than this service accepts.",
        )
    if not files:
        raise bad(
            part.pointer, "the zip holds no images", "zip class folders: 0/a.png, 1/b.png, ..."
        )
    root = _common_root([i.filename for i in files])
    return [_member(part, info, root) for info in sorted(files, key=lambda i: i.filename)]


def _ignored(info: zipfile.ZipInfo) -> bool:
    base = info.filename.rstrip("/").rsplit("/", 1)[-1]
    return (
        info.is_dir()
        or info.filename.startswith(_IGNORED_PREFIXES)
        or base.startswith(".")
        or base in _IGNORED_NAMES
    )


def _check_safe(part: Part, info: zipfile.ZipInfo) -> None:
    name = info.filename
    pointer = f"{part.pointer}/{escape_pointer_token(name)}"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise bad(
            pointer,
            f"the name {name!r} points outside the archive (path traversal)",
            "zip the class folders with relative names such as 0/a.png",
            detail="The zip archive has a file name that climbs out of it.",
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise bad(
            pointer,
            f"{name!r} is a symbolic link",
            "zip the images themselves (zip without --symlinks)",
            detail="The zip archive holds a symbolic link.",
        )


def _common_root(names: list[str]) -> str:
    """A single top folder that is not itself a class (``digits/0/a.png``) is skipped."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        top = next(iter(tops))
        if not top.isdigit() and all(n.count("/") >= 2 for n in names):
            return top + "/"
    return ""


def _member(part: Part, info: zipfile.ZipInfo, root: str) -> Member:
    name = info.filename
    pointer = f"{part.pointer}/{escape_pointer_token(name)}"
    relative = name[len(root) :]
    if "/" not in relative:
        raise bad(
            pointer,
            f"{name!r} is not inside a class folder",
            "put each image in a folder named by its class: 0/a.png, 1/b.png, ...",
        )
    folder = relative.split("/", 1)[0]
    if not folder.isdigit():
        raise bad(
            pointer,
            f"the folder {folder!r} is not a class label",
            "name class folders with whole numbers: 0, 1, 2, ...",
        )
    if not name.lower().endswith(IMAGE_SUFFIXES):
        raise bad(
            pointer,
            f"{name!r} is not a PNG or JPEG image; the zip mixes formats",
            "keep only .png and .jpg images in the class folders",
            detail="The zip archive mixes images with other files.",
        )
    return Member(info, int(folder), pointer)


def _images(archive: zipfile.ZipFile, members: list[Member], options: Options) -> np.ndarray:
    reader: ImageReader | None = options.images
    if reader is None:
        raise RuntimeError("the zip format needs Options.images (an ImageReader)")
    size = options.size
    x: np.ndarray | None = None
    for i, member in enumerate(members):
        data = archive.read(member.info)
        if options.preprocess == "mnist":
            image = reader.digit(data, size or DEFAULT_SIZE, member.pointer) * 255.0
        else:
            image = _kept(reader.gray(data, member.pointer), size, members[0], x, member)
        if x is None:
            x = np.empty((len(members), *image.shape), dtype=np.uint8)
        x[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
    assert x is not None  # _members refuses an empty archive
    return x


def _kept(
    image: np.ndarray,
    size: tuple[int, int] | None,
    first: Member,
    x: np.ndarray | None,
    member: Member,
) -> np.ndarray:
    """preprocess=none: the pixels as they are, resized only to a declared size."""
    if size is not None:
        if image.shape != size:
            resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BOX)
            image = np.asarray(resized, dtype=np.float32)
        return image
    if x is not None and image.shape != x.shape[1:]:
        raise bad(
            member.pointer,
            f"{member.info.filename!r} is {image.shape[0]}x{image.shape[1]} (HxW) but "
            f"{first.info.filename!r} is {x.shape[1]}x{x.shape[2]}: images of different sizes",
            "declare the form field size=HEIGHTxWIDTH to resize them all, or use "
            "preprocess=mnist (the default)",
            detail="The images have different sizes and no size was declared.",
        )
    return image
