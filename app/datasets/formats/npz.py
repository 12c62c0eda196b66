"""NumPy ``.npz`` archives holding ``x`` (images) and ``y`` (labels), read without pickle."""

from __future__ import annotations

import zipfile

import numpy as np

from app.datasets.formats.common import Converted, Limits, Options, Part, bad, finish


def convert(part: Part, options: Options, limits: Limits) -> Converted:
    _check_members(part, limits)
    part.stream.seek(0)
    try:
        with np.load(part.stream, allow_pickle=False) as archive:
            missing = [k for k in ("x", "y") if k not in archive.files]
            if missing:
                raise bad(
                    part.pointer,
                    f"the archive has arrays {sorted(archive.files)}, not {missing}",
                    "save it with np.savez(path, x=images, y=labels)",
                )
            x, y = archive["x"], archive["y"]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise bad(
                part.pointer,
                "the archive holds pickled Python objects, which are never loaded",
                "save plain numeric arrays: np.savez(path, x=images.astype('uint8'), y=labels)",
            ) from exc
        raise bad(part.pointer, f"an array in the archive is damaged ({exc})", _RESAVE) from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise bad(part.pointer, f"the archive is damaged ({exc})", _RESAVE) from exc
    return finish(
        x, y, x_pointer=f"{part.pointer}/x", y_pointer=f"{part.pointer}/y", size=options.size
    )


_RESAVE = "save it again with np.savez or np.savez_compressed"


def _check_members(part: Part, limits: Limits) -> None:
    """An .npz is a zip: refuse bombs before NumPy inflates a member into memory."""
    part.stream.seek(0)
    try:
        with zipfile.ZipFile(part.stream) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise bad(part.pointer, f"the file is not a valid .npz archive ({exc})", _RESAVE) from exc
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise bad(
            part.pointer,
            f"the arrays unpack to {total:,} bytes, over the limit of "
            f"{limits.max_uncompressed_bytes:,}",
            "upload a smaller dataset, or store pixels as uint8",
            detail="The archive unpacks to more than this service accepts.",
        )
