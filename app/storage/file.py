"""Artifacts as files under a local directory (the embedded default: the data dir)."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.storage.base import ArtifactStore, ObjectMissing, StoredObject, StoreError, check_key

TMP_MARK = ".tmp-"  # in-progress writes; listed so a sweep can remove ones a crash left


class FileStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = f"file://{root.resolve()}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._atomic(key) as fh:
            fh.write(data)

    def put_file(self, key: str, path: Path) -> None:
        with self._atomic(key) as fh, path.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def _atomic(self, key: str) -> _AtomicWrite:
        return _AtomicWrite(self._path(key))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def download(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.exists():
            raise ObjectMissing(key)
        with _AtomicWrite(dest) as fh, src.open("rb") as fin:
            shutil.copyfileobj(fin, fh, 1 << 20)

    def local_path(self, key: str, cache_dir: Path) -> Path:
        # The file is already local: no copy. Content-addressed keys never change under it.
        path = self._path(key)
        if not path.exists():
            raise ObjectMissing(key)
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        count = super().delete_prefix(prefix)
        # Drop directories the deletes emptied, so a deleted run leaves no trace.
        top = self.root / prefix.rstrip("/") if prefix.endswith("/") else None
        if top is not None and top.is_dir():
            shutil.rmtree(top, ignore_errors=True)
        return count

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _, files in os.walk(base):
            for name in files:
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                yield StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{TMP_MARK}probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(self.location, f"{type(exc).__name__}: {exc}") from exc


class _AtomicWrite:
    """A temporary file beside ``final``, fsynced and renamed over it on success."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = final.with_name(f"{final.name}{TMP_MARK}{uuid.uuid4().hex[:12]}")

    def __enter__(self) -> io.BufferedWriter:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.tmp.open("wb")
        return self.fh

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
        finally:
            self.fh.close()
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        os.replace(self.tmp, self.final)
        fsync_dir(self.final.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` survive a power cut (POSIX needs the directory
    synced too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
