"""Artifacts as files under a local directory (the embedded default: the data dir)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.storage.atomic import TMP_MARK, atomic_file
from app.storage.base import ArtifactStore, ObjectMissing, StoredObject, StoreError, check_key


class FileStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = f"file://{root.resolve()}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        with atomic_file(self._path(key)) as fh:
            fh.write(data)

    def put_file(self, key: str, path: Path) -> None:
        with atomic_file(self._path(key)) as fh, path.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def download(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.exists():
            raise ObjectMissing(key)
        with atomic_file(dest) as fh, src.open("rb") as fin:
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
