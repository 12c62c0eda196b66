"""The artifact store contract, on files and on S3 over HTTP (moto's server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage import ArtifactStore, ObjectMissing, StoreError, open_store, parse_artifacts_url
from app.storage.s3 import S3Store
from tests.fixtures.live import free_port
from tests.fixtures.s3server import S3Server


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "file":
        yield open_store(f"file://{tmp_path / 'objects'}", tmp_path)
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield open_store(f"s3://{server.new_bucket()}/some/prefix", tmp_path, server.url)


def test_put_get_exists_delete(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_bytes("runs/a/one.bin", b"first")
    store.put_bytes("runs/a/one.bin", b"second")  # a replace is whole, never mixed
    assert store.get_bytes("runs/a/one.bin") == b"second"
    assert store.exists("runs/a/one.bin") and not store.exists("runs/a/two.bin")
    src = tmp_path / "model.keras"
    src.write_bytes(b"x" * 300_000)
    store.put_file("runs/a/model.keras", src)
    dest = tmp_path / "down" / "copy.keras"
    store.download("runs/a/model.keras", dest)
    assert dest.read_bytes() == src.read_bytes()
    store.delete("runs/a/one.bin")
    store.delete("runs/a/one.bin")  # already gone: no error
    assert not store.exists("runs/a/one.bin")
    with pytest.raises(ObjectMissing):
        store.get_bytes("runs/a/one.bin")
    with pytest.raises(ObjectMissing):
        store.download("runs/a/one.bin", tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_list_and_delete_prefix(store: ArtifactStore) -> None:
    for key in ("runs/a/x.npz", "runs/a/y.npz", "runs/ab/z.npz", "datasets/d/1.npz"):
        store.put_bytes(key, key.encode())
    assert sorted(o.key for o in store.list("runs/a/")) == ["runs/a/x.npz", "runs/a/y.npz"]
    assert {o.key for o in store.list("runs/")} == {"runs/a/x.npz", "runs/a/y.npz", "runs/ab/z.npz"}
    listed = next(iter(store.list("datasets/")))
    assert listed.size == len(b"datasets/d/1.npz") and listed.modified.tzinfo is not None
    assert store.delete_prefix("runs/a/") == 2
    assert [o.key for o in store.list("runs/")] == ["runs/ab/z.npz"]


def test_local_path_caches_immutable_objects(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_bytes("runs/a/model-1.keras", b"model")
    path = store.local_path("runs/a/model-1.keras", tmp_path / "cache")
    assert path.read_bytes() == b"model"
    with pytest.raises(ObjectMissing):
        store.local_path("runs/a/model-2.keras", tmp_path / "cache")


def test_keys_cannot_leave_the_store(store: ArtifactStore) -> None:
    for bad in ("../etc/passwd", "/abs", "runs//x", "runs/../../x", ""):
        with pytest.raises(ValueError):
            store.put_bytes(bad, b"")


def test_check_passes(store: ArtifactStore) -> None:
    store.check()


def test_unreachable_s3_is_a_store_error_naming_it(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3Store("bucket", "p", endpoint)
    with pytest.raises(StoreError) as err:
        store.check()
    assert "s3://bucket/p" in str(err.value) and endpoint in str(err.value)
    with pytest.raises(StoreError):
        store.put_bytes("runs/a/x", b"1")


def test_missing_bucket_is_a_store_error(s3_server: S3Server) -> None:
    store = S3Store("no-such-bucket-here", "", s3_server.url)
    with pytest.raises(StoreError) as err:
        store.check()
    assert "no-such-bucket-here" in str(err.value)
    with pytest.raises(StoreError):
        store.put_bytes("runs/a/x", b"1")


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "s3://", "s3:///prefix", "file://host/path", "runs", "file://"]
)
def test_bad_urls_are_refused_naming_the_form(url: str) -> None:
    with pytest.raises(ValueError, match=r"file://|s3://"):
        parse_artifacts_url(url)


def test_default_store_is_the_data_dir(tmp_path: Path) -> None:
    store = open_store("", tmp_path / "var")
    store.put_bytes("runs/r/model.keras", b"m")
    assert (tmp_path / "var" / "runs" / "r" / "model.keras").read_bytes() == b"m"
