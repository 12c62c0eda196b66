"""Artifacts in S3 or an S3-compatible server (MinIO, Ceph, GCS's S3 API), through boto3.

A single PUT (and a completed multipart upload) is atomic in S3: readers see the previous
object or the whole new one, which is the store's contract. Credentials come from the
standard AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance
roles); ``TRAINSERVE_S3_ENDPOINT_URL`` points at a non-AWS server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from app.storage.atomic import atomic_path
from app.storage.base import ArtifactStore, ObjectMissing, StoredObject, StoreError, check_key

T = TypeVar("T")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store(ArtifactStore):
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        where = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.location = f"{where} at {endpoint_url}" if endpoint_url else where
        # botocore retries throttling and 5xx itself (standard mode); short connect timeout so
        # an unreachable store is reported in seconds, not minutes. The client is thread-safe.
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=3,
            read_timeout=60,
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"),
            config=config,
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, fn: Callable[[], T], key: str | None = None) -> T:
        """Run one client call, turning botocore's errors into the store's two kinds."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if key is not None and code in _MISSING:
                raise ObjectMissing(key) from None
            raise StoreError(self.location, f"{code}: {exc}") from exc
        except BotoCoreError as exc:  # connection refused, DNS, no credentials, timeouts
            raise StoreError(self.location, f"{type(exc).__name__}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        self._call(lambda: self._client.put_object(Bucket=self.bucket, Key=full, Body=data))

    def put_file(self, key: str, path: Path) -> None:
        full = self._key(key)
        self._call(lambda: self._client.upload_file(str(path), self.bucket, full))

    def get_bytes(self, key: str) -> bytes:
        full = self._key(key)
        body = self._call(
            lambda: self._client.get_object(Bucket=self.bucket, Key=full)["Body"].read(), key
        )
        return bytes(body)

    def download(self, key: str, dest: Path) -> None:
        full = self._key(key)
        with atomic_path(dest) as tmp:
            self._call(lambda: self._client.download_file(self.bucket, full, str(tmp)), key)

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self._call(lambda: self._client.head_object(Bucket=self.bucket, Key=full), key)
        except ObjectMissing:
            return False
        return True

    def delete(self, key: str) -> None:
        full = self._key(key)
        self._call(lambda: self._client.delete_object(Bucket=self.bucket, Key=full))

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(obj.key) for obj in self.list(prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = {"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}

            def delete_batch(b: dict[str, Any] = batch) -> Any:
                return self._client.delete_objects(Bucket=self.bucket, Delete=b)

            self._call(delete_batch)
        return len(keys)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        )
        iterator = iter(pages)
        while True:
            page = self._call(lambda: next(iterator, None))
            if page is None:
                return
            for obj in page.get("Contents", []):
                yield StoredObject(obj["Key"][strip:], obj["Size"], obj["LastModified"])

    def check(self) -> None:
        # HEAD on the bucket proves the endpoint answers, the bucket exists and the
        # credentials are accepted, in one cheap call.
        self._call(lambda: self._client.head_bucket(Bucket=self.bucket))
