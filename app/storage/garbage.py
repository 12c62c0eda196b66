"""The sweep: delete stored objects that no database row names.

Writers put an object first and commit the row that names it second (see
``app.storage.runs``), so a crash in between, a worker that lost its lease, a deleted run
whose objects could not be removed, or a checkpoint superseded by the next one leave
objects nobody will read; so does a write a crash interrupted under a file store's root
(its one temporary name, ``app.storage.atomic.TMP_MARK``, is a key no row names). The sweep lists the store, reads which keys the rows name, and
deletes the rest, but only objects older than a grace period: a young unnamed object may be
an upload whose row is about to be committed.

The listing comes before the rows are read: an object listed and committed meanwhile is
named by the rows we read; one listed but not yet committed is young (the write-to-commit
window is seconds, the grace period an hour).

Checkpoint keys are named by epoch, so one key can be written twice: by an attempt that
lost its lease (and never committed it) and, later, by the attempt that took the run over.
An old leftover at an epoch past the row's may be overwritten and committed between our
read of the rows and our delete, which would leave the row naming a deleted checkpoint: so
an active run's checkpoints past its row's epoch are kept until the run ends, when every
checkpoint of it is garbage.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.db.session import read_session
from app.db.tables import Dataset, Run
from app.enums import ACTIVE, RunStatus
from app.storage.runs import checkpoint_name, key_of, model_keys

if TYPE_CHECKING:
    from app.settings import Settings
    from app.storage.base import StoredObject

log = logging.getLogger("trainserve.storage")

# What the sweep looks at: runs' objects and uploaded datasets. Everything else under a
# file store's root (the database, caches, staging) is not the sweep's business.
PREFIXES = ("runs/", "datasets/uploads/")
# Model files by format, as in app.training.artifacts (not imported: TensorFlow-free here).
_FILES = {"keras": "model.keras", "onnx": "model.onnx", "tflite": "model.tflite"}
_CHECKPOINT = re.compile(r"^runs/([^/]+)/checkpoint-(\d+)\.npz$")


@dataclass(frozen=True)
class SweepResult:
    garbage: list[StoredObject]  # deleted (or, in a dry run, that would be)
    kept: int  # objects looked at and kept: named by a row, or young


def collect_garbage(settings: Settings, grace_seconds: float, dry_run: bool = False) -> SweepResult:
    """Delete (unless ``dry_run``) every object under PREFIXES that no row names and that is
    older than ``grace_seconds``. Raises StoreError when the store cannot be listed."""
    from app.storage import store_for

    store = store_for(settings)
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    listed = [obj for prefix in PREFIXES for obj in store.list(prefix)]
    named, resuming = _named_by_rows(settings)
    garbage = [
        o
        for o in listed
        if _stem(o.key) not in named
        and o.modified < cutoff
        and not _ahead_of_its_row(o.key, resuming)
    ]
    if not dry_run:
        for obj in garbage:
            store.delete(obj.key)
        if garbage:
            log.info("sweep: deleted %d unreferenced objects from %s", len(garbage), store.location)
    return SweepResult(garbage, len(listed) - len(garbage))


def _stem(key: str) -> str:
    """A dataset's row names its ``.npz``; files beside it (the ``.png`` preview) share the
    stem and live as long as it does. Run keys are compared whole."""
    if key.startswith("datasets/"):
        return key.rsplit(".", 1)[0]
    return key


def _named_by_rows(settings: Settings) -> tuple[set[str], dict[str, int]]:
    """Every key a row names now (datasets: by stem): finished models and exports, the
    checkpoint an active run resumes from, uploaded datasets with their previews; and the
    checkpoint epoch of each active run."""
    with read_session(settings.resolved_database_url) as s:
        runs = s.execute(
            select(Run.id, Run.status, Run.checkpoint_epoch, Run.artifact_sha256, Run.exports)
        ).all()
        datasets = set(s.scalars(select(Dataset.storage_key)))
    keys = {_stem(key) for key in datasets}
    resuming = {}
    for run_id, status, checkpoint_epoch, sha256, exports in runs:
        keys.update(_run_keys(run_id, status, checkpoint_epoch, sha256, exports or {}))
        if status in ACTIVE:
            resuming[run_id] = checkpoint_epoch
    return keys, resuming


def _ahead_of_its_row(key: str, resuming: dict[str, int]) -> bool:
    """A checkpoint of an active run past the epoch its row names (see the module's note)."""
    match = _CHECKPOINT.match(key)
    return match is not None and int(match[2]) > resuming.get(match[1], 1 << 62)


def _run_keys(
    run_id: str,
    status: RunStatus,
    checkpoint_epoch: int,
    sha256: str | None,
    exports: dict[str, Any],
) -> list[str]:
    keys = []
    if status in ACTIVE and checkpoint_epoch > 0:
        # Finished runs never resume: their checkpoints are garbage (the model supersedes).
        keys.append(key_of(run_id, checkpoint_name(checkpoint_epoch)))
    if status != RunStatus.SUCCEEDED or not sha256:
        return keys
    files = [("keras", sha256)]
    for fmt, export in exports.items():
        if isinstance(export, dict) and export.get("status") == "available":
            files.append((fmt, str(export.get("sha256") or "")))
    for fmt, digest in files:
        name = _FILES.get(fmt)
        if name is not None and digest:
            keys.extend(model_keys(run_id, name, digest))  # whichever of the two it is under
    return keys
