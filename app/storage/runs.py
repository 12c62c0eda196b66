"""A run's directory, backed by the artifact store so that any machine can read it.

Workers keep writing checkpoints, the model and its exports into ``<data dir>/runs/<id>/``
(each file atomically), then publish each one to the store before the database row that
names it is committed: the row stays the commit point. Keys say which row names them:

- a model or export: ``runs/<id>/model-<sha256>.keras``, content-addressed, named by the
  row's ``artifact_sha256`` (or ``exports[fmt].sha256``). An upload never replaces what a
  committed row names, so a crash (or a worker that lost its lease) between upload and
  commit leaves only an object no row names;
- a checkpoint: ``runs/<id>/checkpoint-<epoch>.npz``, named by the row's
  ``checkpoint_epoch``. Two writers of one key are two attempts of the same run at the same
  epoch, and either copy resumes it; a checkpoint past the row's epoch is named by nothing.

Objects no row names are garbage for ``app.storage.garbage``. With the default store (files
under the data dir) publishing and fetching are no-ops: the embedded mode reads and writes
exactly the files it always did, under their plain names, each renamed into place. So a
finished run's file is looked up under its content-addressed key first and its plain name
second (``model_keys``), in every store: one lookup, and data dirs of every version serve.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from app.storage.base import ArtifactStore, ObjectMissing, StoreError
from app.storage.file import FileStore

if TYPE_CHECKING:
    from app.settings import Settings


def _store(settings: Settings) -> ArtifactStore | None:
    """The store, or None when it is the data dir itself (nothing to copy)."""
    from app.storage import store_for

    store = store_for(settings)
    if isinstance(store, FileStore) and store.root == settings.data_dir.resolve():
        return None
    return store


def key_of(run_id: str, name: str) -> str:
    return f"runs/{run_id}/{name}"


def checkpoint_name(epoch: int) -> str:
    return f"checkpoint-{epoch:05d}.npz"


def artifact_key(run_id: str, name: str, sha256: str) -> str:
    """The content-addressed key of a model file: ``model.onnx`` -> ``model-<sha256>.onnx``."""
    stem, dot, suffix = name.partition(".")
    return key_of(run_id, f"{stem}-{sha256}{dot}{suffix}")


def model_keys(run_id: str, name: str, sha256: str) -> tuple[str, str]:
    """Where a finished run's file can be, in lookup order: its content-addressed key (as
    published to a store other than the data dir), then its plain name (as the embedded
    mode writes it in place). Renaming the embedded files instead would change a layout
    users know and still leave every existing data dir under the plain names."""
    return artifact_key(run_id, name, sha256), key_of(run_id, name)


def publish(settings: Settings, run_id: str, path: Path) -> None:
    """Put a checkpoint of the run's local directory in the store (StoreError if it refuses)."""
    store = _store(settings)
    if store is not None:
        store.put_file(key_of(run_id, path.name), path)


def publish_artifact(settings: Settings, run_id: str, path: Path, sha256: str) -> None:
    """Put a model file in the store under its content-addressed key."""
    store = _store(settings)
    if store is not None:
        store.put_file(artifact_key(run_id, path.name, sha256), path)


def drop_checkpoint(settings: Settings, run_id: str, epoch: int) -> None:
    """Remove a checkpoint no row names any more (best effort: the sweep is the backstop)."""
    store = _store(settings)
    if store is not None:
        with contextlib.suppress(StoreError):
            store.delete(key_of(run_id, checkpoint_name(epoch)))


def drop_checkpoints(settings: Settings, run_id: str) -> None:
    """Remove every stored checkpoint of a finished run (it never resumes; best effort)."""
    store = _store(settings)
    if store is not None:
        with contextlib.suppress(StoreError):
            for obj in list(store.list(key_of(run_id, "checkpoint-"))):
                store.delete(obj.key)


def forget_local(settings: Settings, run_id: str) -> None:
    """Drop a finished run's local working copy when the store keeps it (local disk is
    only a cache); in the embedded mode the data dir *is* the store and keeps it."""
    if _store(settings) is not None:
        shutil.rmtree(settings.runs_dir / run_id, ignore_errors=True)


def fetch_missing(settings: Settings, run_id: str, path: Path) -> None:
    """Bring a file of the run's directory from the store when it is not here (a resume on
    another machine); leaves it absent when the store has none either."""
    store = _store(settings)
    if store is not None and not path.exists():
        with contextlib.suppress(ObjectMissing):
            store.download(key_of(run_id, path.name), path)


def local_file(settings: Settings, run_id: str, name: str, sha256: str) -> Path:
    """A local path of a finished run's file: the file itself in a file store, else a copy
    in the cache under its content-addressed key (never stale). ObjectMissing if none."""
    from app.storage import store_for

    store = store_for(settings)
    for key in model_keys(run_id, name, sha256):
        with contextlib.suppress(ObjectMissing):
            return store.local_path(key, settings.cache_dir)
    raise ObjectMissing(artifact_key(run_id, name, sha256))


def delete_run(settings: Settings, run_id: str) -> None:
    """Remove a deleted run's files and objects, once its row is gone. A store that refuses
    leaves them as garbage for the sweep (no row names them any more), never an error."""
    shutil.rmtree(settings.runs_dir / run_id, ignore_errors=True)
    store = _store(settings)
    if store is not None:
        with contextlib.suppress(StoreError):
            store.delete_prefix(f"runs/{run_id}/")


def served_file(settings: Settings, run_id: str, name: str, sha256: str) -> Path:
    """``local_file`` for the API: 409 when the file is gone, 503 naming the store when the
    store cannot be reached."""
    from app.errors import Conflict, Unavailable
    from app.storage import store_for

    location = store_for(settings).location
    try:
        return local_file(settings, run_id, name, sha256)
    except ObjectMissing:
        raise Conflict(
            f"The model file {name} of run {run_id} is missing from the artifact store "
            f"({location}); retrain the run."
        ) from None
    except StoreError as exc:
        raise Unavailable(
            f"The artifact store ({location}) cannot be reached ({exc.reason}); try again shortly."
        ) from exc
