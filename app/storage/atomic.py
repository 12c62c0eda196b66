"""Files written atomically: a reader sees each file either absent or complete.

One temporary name for every writer (the file store, downloads into caches, checkpoints,
model files and exports), so whatever a crash leaves behind is recognisable: a hidden
``.tmp-<random>-<final name>`` beside the final file. It keeps the final suffix because the
Keras writers insist on it. Under a file store's root such leftovers are objects no row
names, which the sweep (``app.storage.garbage``) removes once older than its grace period.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TMP_MARK = ".tmp-"


def temp_path(final: Path) -> Path:
    return final.with_name(f"{TMP_MARK}{uuid.uuid4().hex[:12]}-{final.name}")


def is_temporary(name: str) -> bool:
    return name.startswith(TMP_MARK)


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path to write ``final``'s content to (for writers that need a path); on
    success it is synced and renamed over ``final``, on failure removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(final.parent)


@contextmanager
def atomic_file(final: Path) -> Iterator[BinaryIO]:
    """``atomic_path`` for writers that take a file handle."""
    with atomic_path(final) as tmp, tmp.open("wb") as fh:
        yield fh


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` survive a power cut (POSIX needs the directory
    synced too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
