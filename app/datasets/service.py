"""Dataset operations: upload (convert, store, record), list, show, delete, load for training.

An upload is committed file first, row last: until the row exists nobody can see or train
on the dataset, so a failed or interrupted upload leaves nothing a user can see, and the
files of a failed commit are removed again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.datasets import catalog, formats, preview, storage
from app.datasets.catalog import CATALOG, DatasetInfo, DatasetRef
from app.datasets.formats.common import Converted, content_sha256
from app.db.session import write_session
from app.db.tables import Dataset, Run
from app.enums import ACTIVE
from app.errors import Conflict, FieldError, InvalidInput, NotFound, ServiceError
from app.settings import Settings


@dataclass
class Upload:
    name: str
    parts: dict[str, formats.Part]
    format: formats.FormatName | None
    options: formats.Options
    new_version: bool = False


def limits(settings: Settings) -> formats.Limits:
    return formats.Limits(
        max_uncompressed_bytes=settings.max_dataset_uncompressed_bytes,
        max_files=settings.max_dataset_files,
    )


def upload(settings: Settings, up: Upload) -> DatasetInfo:
    name = _new_name(up.name)
    _check_name_free(settings, name, up.new_version)  # early: do not convert for nothing
    fmt, data = formats.convert(up.parts, up.format, up.options, limits(settings))
    return _commit(settings, name, fmt, data, up)


def _new_name(text: str) -> str:
    ref = catalog.parse_ref(text, "/name")
    if ref.version is not None:
        raise InvalidInput(
            "Versions are numbered by the service.",
            [
                FieldError(
                    "/name",
                    f"{text!r} names a version",
                    f"upload as name={ref.name} with ?version=new to add a version",
                )
            ],
        )
    if ref.name in CATALOG:
        raise Conflict(
            f"{ref.name!r} is a built-in dataset; it cannot be replaced. Upload under another name."
        )
    return ref.name


def _check_name_free(settings: Settings, name: str, new_version: bool) -> None:
    latest = catalog.latest_version(settings, name)
    if latest is not None and not new_version:
        raise _exists(name, latest)


def _exists(name: str, latest: int) -> Conflict:
    return Conflict(
        f"A dataset named {name!r} exists (version {latest}); versions are immutable. "
        "Add ?version=new to upload version "
        f"{latest + 1}, or choose another name."
    )


def _commit(settings: Settings, name: str, fmt: str, data: Converted, up: Upload) -> DatasetInfo:
    sha256 = data.sha256()
    staged = storage.new_staging_file(settings, ".npz")
    staged_preview = storage.new_staging_file(settings, ".png")
    # Unique per upload, so a commit that loses a race removes only its own files.
    stem = f"{storage.PREFIX}/{name}/{uuid.uuid4().hex[:12]}"
    key, preview_key = f"{stem}.npz", f"{stem}.png"
    try:
        np.savez_compressed(staged, x=data.x, y=data.y)
        staged_preview.write_bytes(preview.grid_png(data.x, data.y, label_names=data.label_names))
        size = staged.stat().st_size
        with write_session(settings.resolved_database_url) as session:
            latest = session.scalar(select(func.max(Dataset.version)).where(Dataset.name == name))
            if latest is not None and not up.new_version:
                raise _exists(name, latest)
            storage.put(settings, key, staged)
            storage.put(settings, preview_key, staged_preview)
            row = Dataset(
                name=name,
                version=(latest or 0) + 1,
                format=fmt,
                options=up.options.given,
                shape=list(data.shape),
                dtype=str(data.x.dtype),
                classes=data.classes,
                class_counts=data.counts(),
                num_examples=len(data.y),
                target=data.target,
                label_names=list(data.label_names) if data.label_names else None,
                sha256=sha256,
                bytes=size,
                storage_key=key,
            )
            session.add(row)
            session.flush()
        return catalog.from_row(row, [*range(1, row.version + 1)])
    except BaseException as exc:
        storage.delete(settings, key)
        storage.delete(settings, preview_key)
        if isinstance(exc, IntegrityError):
            raise Conflict(
                f"Another upload of {name!r} took the same version at the same moment; retry."
            ) from exc
        raise
    finally:
        staged.unlink(missing_ok=True)
        staged_preview.unlink(missing_ok=True)


def get(settings: Settings, text: str) -> DatasetInfo:
    ref = catalog.parse_ref(text, "/name")
    info = catalog.find(settings, ref)
    if info is None:
        raise _not_found(settings, ref)
    return info


def list_all(settings: Settings) -> list[DatasetInfo]:
    builtins = [catalog.builtin_info(n) for n in CATALOG]
    return [i for i in builtins if i is not None] + catalog.latest_uploads(settings)


def _not_found(settings: Settings, ref: DatasetRef) -> NotFound:
    if ref.version is not None and catalog.find(settings, DatasetRef(ref.name)) is not None:
        return NotFound(f"Dataset {ref.name!r} has no version {ref.version}.")
    known = ", ".join(catalog.known_names(settings))
    return NotFound(f"No dataset named {ref.name!r}; known: {known}.")


def delete(settings: Settings, text: str) -> None:
    """Delete an upload (every version, or ``name@version``); 409 while a run needs it."""
    ref = catalog.parse_ref(text, "/name")
    if ref.name in CATALOG:
        raise Conflict(f"{ref.name!r} is a built-in dataset; built-ins cannot be deleted.")
    with write_session(settings.resolved_database_url) as session:
        # Lock the rows before looking for runs: a run being queued holds a share lock on its
        # dataset row (see ``hold``), so on PostgreSQL this waits for that run to commit and
        # the search below then sees it. SQLite runs one write transaction at a time.
        stmt = select(Dataset).where(Dataset.name == ref.name)
        if ref.version is not None:
            stmt = stmt.where(Dataset.version == ref.version)
        rows = list(session.scalars(stmt.order_by(Dataset.version).with_for_update()))
        if not rows:
            raise _not_found(settings, ref)
        versions = {r.version for r in rows}
        users = [
            run.id
            for run in session.scalars(select(Run).where(Run.status.in_(ACTIVE)).order_by(Run.id))
            if run.spec["dataset"]["name"] == ref.name
            and run.spec["dataset"].get("version") in versions
        ]
        if users:
            raise Conflict(
                f"Run(s) {', '.join(users[:5])} are queued or running on {ref}; cancel them or "
                "wait for them to finish, then delete."
            )
        keys = [r.storage_key for r in rows]
        for row in rows:
            session.delete(row)
    # Row first, files last: a crash in between leaves only files nobody can see.
    for key in keys:
        storage.delete(settings, key)
        storage.delete(settings, _preview_key(key))


def hold(session: Session, name: str, version: int | None) -> None:
    """In the transaction that queues a run: refuse if its dataset version is gone, and keep it
    from going until that transaction ends.

    The spec was checked against the catalog before, in another transaction, so a delete may
    have committed since. On PostgreSQL the share lock makes a concurrent ``delete`` wait
    for this run's commit (and then see the run and answer 409); two runs queued on the
    same dataset do not wait for each other. SQLite's writers run one at a time anyway.
    """
    if version is None:
        return  # a built-in: never deleted
    found = session.scalar(
        select(Dataset.id)
        .where(Dataset.name == name, Dataset.version == version)
        .with_for_update(read=True)
    )
    if found is None:
        raise DatasetUnavailable(
            f"Dataset {name}@{version} was deleted while the run was being created.",
            [
                FieldError(
                    "/dataset/name",
                    f"{name}@{version} no longer exists",
                    "upload it again, or name another dataset",
                )
            ],
        )


def _preview_key(key: str) -> str:
    return key.removesuffix(".npz") + ".png"


def preview_png(settings: Settings, text: str) -> bytes:
    info = get(settings, text)
    if info.builtin:
        return _builtin_preview(settings, info.name)
    try:
        return storage.open_path(settings, _preview_key(info.storage_key or "")).read_bytes()
    except FileNotFoundError:
        x, y = _read(settings, info)
        return preview.grid_png(x, y, label_names=info.label_names)


# --- built-ins: previews are drawn once per process (a cache, by design) -----------------

_BUILTIN_PREVIEWS: dict[str, bytes] = {}


def _builtin_arrays(settings: Settings, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    from app.datasets.builtin import load_raw, mnist_cache_path

    if name == "mnist" and not mnist_cache_path(settings.data_dir).exists():
        return None  # not downloaded yet; counts and preview appear once it is
    return load_raw(name, settings.data_dir)


def _builtin_preview(settings: Settings, name: str) -> bytes:
    png = _BUILTIN_PREVIEWS.get(name)
    if png is None:
        arrays = _builtin_arrays(settings, name)
        if arrays is None:
            raise NotFound(f"{name!r} is not downloaded yet; train a run on it first.")
        png = preview.grid_png(*arrays)
        _BUILTIN_PREVIEWS[name] = png
    return png


# --- training ----------------------------------------------------------------------------


class DatasetUnavailable(ServiceError):
    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(
            detail=detail, errors=errors or [], status=409, title="Dataset unavailable"
        )


def load_for_training(
    settings: Settings, name: str, version: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Images (N, H, W) scaled to [0, 1], labels, and the sha256 they were verified against."""
    info = catalog.find(settings, DatasetRef(name, version))
    if info is None:
        raise DatasetUnavailable(f"dataset {name}@{version} was deleted; upload it again")
    x, y = _read(settings, info)
    if content_sha256(x, y) != info.sha256:
        raise DatasetUnavailable(
            f"the stored data of {name}@{version} does not match its sha256 {info.sha256}; "
            "upload it again"
        )
    scaled = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    return scaled, y, info.sha256 or ""


def _read(settings: Settings, info: DatasetInfo) -> tuple[np.ndarray, np.ndarray]:
    try:
        path: Path = storage.open_path(settings, info.storage_key or "")
    except FileNotFoundError:
        raise DatasetUnavailable(
            f"the file of dataset {info.name}@{info.version} is missing; upload it again"
        ) from None
    with np.load(path, allow_pickle=False) as archive:
        return archive["x"], archive["y"]
