"""Where runs keep what other processes need: checkpoints, models, exports, datasets.

``open_store(settings)`` picks the backend from ``TRAINSERVE_ARTIFACTS_URL``; everything
else talks to the ``ArtifactStore`` interface only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from app.storage.base import ArtifactStore, ObjectMissing, StoredObject, StoreError
from app.storage.file import FileStore

if TYPE_CHECKING:
    from app.settings import Settings

__all__ = [
    "ArtifactStore",
    "ObjectMissing",
    "StoreError",
    "StoredObject",
    "open_store",
    "parse_artifacts_url",
    "store_for",
]


def parse_artifacts_url(url: str) -> tuple[str, str, str]:
    """(scheme, location, prefix) of a store URL; raises ValueError naming what is wrong."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file URLs name a local path (file:///path), got {url!r}")
        if not parsed.path:
            raise ValueError(f"file URL without a path: {url!r}")
        return "file", parsed.path, ""
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"s3 URLs need a bucket (s3://bucket/prefix), got {url!r}")
        return "s3", parsed.netloc, parsed.path.strip("/")
    raise ValueError(f"artifact store URL must start with file:// or s3://, got {url!r}")


def open_store(artifacts_url: str, data_dir: Path, s3_endpoint_url: str = "") -> ArtifactStore:
    """The store for these settings (one per process and URL: boto3 clients are costly)."""
    return _open(artifacts_url, data_dir.resolve(), s3_endpoint_url)


@lru_cache(maxsize=8)
def _open(artifacts_url: str, data_dir: Path, s3_endpoint_url: str) -> ArtifactStore:
    if not artifacts_url:
        return FileStore(data_dir)
    scheme, location, prefix = parse_artifacts_url(artifacts_url)
    if scheme == "file":
        return FileStore(Path(location))
    from app.storage.s3 import S3Store

    return S3Store(location, prefix, s3_endpoint_url or None)


def store_for(settings: Settings) -> ArtifactStore:
    return open_store(settings.artifacts_url, settings.data_dir, settings.s3_endpoint_url)
