"""The artifact store: one interface over local files and S3-compatible object storage.

Object stores have no rename and no partial reads of an upload in progress: an object is
either absent or complete once ``put`` returns. Every backend keeps that promise (the file
backend writes a temporary file and renames it), so a reader never sees half an object.
What makes an object *count* is the database row that names it (a run's
``artifact_sha256``, its ``checkpoint_epoch``): write the object first, commit the row
second, and a crash in between leaves only garbage for the sweep, never a dangling
reference.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Keys are relative, slash-separated, and never climb out of the store's root.
_KEY = re.compile(r"^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$")


class StoreError(Exception):
    """The store could not be used (unreachable, wrong credentials, missing bucket)."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"artifact store {store}: {reason}")
        self.store, self.reason = store, reason


class ObjectMissing(KeyError):
    """No object under that key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # timezone-aware UTC


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a valid artifact key: {key!r}")
    return key


class ArtifactStore(ABC):
    """Put, get, list and delete whole objects under string keys."""

    #: Where the objects live, for messages and /readyz (never contains credentials).
    location: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; readers see the old object or all of the new one."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store a copy of the local file ``path`` under ``key`` (same guarantee)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's content; ``ObjectMissing`` if there is none."""

    @abstractmethod
    def download(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest`` (written atomically); ``ObjectMissing`` if none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix``."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``StoreError`` unless the store answers and accepts our credentials."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many there were."""
        keys = [obj.key for obj in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def local_path(self, key: str, cache_dir: Path) -> Path:
        """A local file with the object's content, for libraries that only open paths.

        Only for immutable keys (content-addressed ones): a cached copy is reused as is.
        The cache may be wiped at any time; the next call downloads again.
        """
        cached = cache_dir / check_key(key)
        if not cached.exists():
            self.download(key, cached)
        return cached
