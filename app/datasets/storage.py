"""Where converted datasets live: put, open and delete by key, through the artifact store
(app.storage: the data dir by default, or S3), shared by the API process and the workers.
Conversions are staged in a local scratch folder first; the store writes each key atomically,
so a key either holds a complete file or nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from app.settings import Settings
from app.storage import ObjectMissing, store_for

PREFIX = "datasets/uploads"


def key_for(name: str, version: int, suffix: str) -> str:
    return f"{PREFIX}/{name}/{version}{suffix}"


def staging_dir(settings: Settings) -> Path:
    """Scratch space on the data dir's file system (renames out of it are atomic)."""
    path = settings.data_dir / "datasets" / "staging"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_staging_file(settings: Settings, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, dir=staging_dir(settings))
    os.close(fd)
    return Path(name)


def put(settings: Settings, key: str, source: Path) -> None:
    """Store the staged file ``source`` under ``key`` in the artifact store (atomic per key)."""
    store_for(settings).put_file(key, source)


def open_path(settings: Settings, key: str) -> Path:
    """A local path to read ``key`` from (S3: a cached download; keys are never reused)."""
    try:
        return store_for(settings).local_path(key, settings.data_dir / "cache")
    except ObjectMissing:
        raise FileNotFoundError(key) from None


def delete(settings: Settings, key: str) -> None:
    store_for(settings).delete(key)


def clear_staging(settings: Settings, older_than: float = 3600.0) -> None:
    """Staged files of uploads that died mid-way (a crash leaves them; nobody reads them)."""
    cutoff = time.time() - older_than
    for path in staging_dir(settings).iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass
