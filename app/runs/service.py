"""Run operations for the API: plain functions over a database URL, testable without HTTP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.datasets.builtin import ensure_available
from app.datasets.service import hold as hold_dataset
from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import EpochMetric, ModelName, Run
from app.dispatch import dispatcher_for
from app.enums import ACTIVE, RunStatus
from app.errors import Conflict, FieldError, NotFound
from app.runs.events import add_status_event
from app.runs.ids import is_run_id, new_run_id
from app.runs.parsing import parse_spec
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from app.storage.runs import delete_run as delete_stored_run


def spec_digest(spec: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def validate_spec(
    settings: Settings, spec_in: RunSpec | dict[str, Any]
) -> tuple[RunSpec, list[FieldError]]:
    """The checks ``create_run`` makes, storing nothing (the editor's validate-as-you-type).

    The one check left out is whether ``mnist`` can be downloaded: that would fetch 11 MB
    on a keystroke. POST /v1/runs still answers 503 when it cannot.
    """
    if isinstance(spec_in, RunSpec):
        return check_spec(spec_in, settings)
    return parse_spec(spec_in, settings)


def create_run(
    settings: Settings, spec_in: RunSpec | dict[str, Any], idempotency_key: str | None = None
) -> tuple[Run, bool]:
    """Validate and queue a run (a parsed spec, or the JSON a client sent, whose schema and
    semantic problems are then reported together); returns it and whether it was created
    by this call."""
    spec, warnings = validate_spec(settings, spec_in)
    ensure_available(
        spec.dataset.name, settings.data_dir, settings.mnist_url, settings.download_timeout
    )
    return queue_checked(settings, spec, warnings, idempotency_key)


def queue_checked(
    settings: Settings,
    spec: RunSpec,
    warnings: list[FieldError],
    idempotency_key: str | None = None,
) -> tuple[Run, bool]:
    """Queue a spec ``validate_spec`` accepted; its dataset is checked again under a lock,
    since an upload may have been deleted between the check and this transaction."""
    idempotency_key = idempotency_key or None  # an empty key is no key, not a shared one
    digest = spec_digest(spec.model_dump(mode="json"))
    url = settings.resolved_database_url
    try:
        with write_session(url) as session:
            if idempotency_key and (existing := _by_key(session, idempotency_key)) is not None:
                return _replay(existing, digest), False
            hold_dataset(session, spec.dataset.name, spec.dataset.version)
            run = new_run(spec, warnings, idempotency_key=idempotency_key)
            run.queue = spec.training.queue or settings.default_queue
            session.add(run)
            session.flush()
            add_status_event(session, run)
        # After the commit: a worker must find the row the message names.
        dispatcher_for(settings).notify(run.id, run.queue)
        return run, True
    except IntegrityError:
        # A concurrent POST with the same key won the insert (PostgreSQL path).
        with read_session(url) as session:
            existing = _by_key(session, idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return _replay(existing, digest), False


def new_run(spec: RunSpec, warnings: list[FieldError], **columns: Any) -> Run:
    """A queued run row for a checked spec (the caller adds it to its session)."""
    spec_dict = spec.model_dump(mode="json")
    return Run(
        id=new_run_id(),
        name=spec.name or f"{spec.dataset.name}-run",
        status=RunStatus.QUEUED,
        spec=spec_dict,
        spec_sha256=spec_digest(spec_dict),
        warnings=[w.as_dict() for w in warnings],
        epochs=spec.training.epochs,
        reproducibility={},
        **columns,
    )


def _existing(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id) if is_run_id(run_id) else None
    if run is None:
        raise NotFound(f"No run with id {run_id!r}.")
    return run


def _by_key(session: Session, key: str) -> Run | None:
    return session.scalars(select(Run).where(Run.idempotency_key == key)).first()


def _replay(existing: Run, digest: str) -> Run:
    if existing.spec_sha256 != digest:
        raise Conflict(
            "This Idempotency-Key was already used with a different run spec "
            f"(run {existing.id}); use a new key for a new run."
        )
    return existing


def get_run(settings: Settings, run_id: str) -> Run:
    with read_session(settings.resolved_database_url) as session:
        return _existing(session, run_id)


def cancel_run(settings: Settings, run_id: str) -> Run:
    with write_session(settings.resolved_database_url) as session:
        run = _existing(session, run_id)
        if run.status.finished:
            raise Conflict(f"Run {run_id} already finished ({run.status}); nothing to cancel.")
        cancel_in_session(session, run)
        return run


def cancel_in_session(session: Session, run: Run, why: str = "by the user") -> None:
    """Cancel an active run inside the caller's transaction (a no-op once it finished)."""
    if run.status == RunStatus.QUEUED:
        run.status, run.finished_at = RunStatus.CANCELLED, utcnow()
        run.failure_reason = f"cancelled {why} before it started"
        add_status_event(session, run)
    elif run.status == RunStatus.RUNNING:
        # The worker sees this at its next heartbeat and stops after the current batch.
        run.status = RunStatus.CANCELLING
        add_status_event(session, run)


def delete_run(settings: Settings, run_id: str) -> str | None:
    """Delete a finished run and its files; returns its artifact hash (to evict caches)."""
    with write_session(settings.resolved_database_url) as session:
        run = _existing(session, run_id)
        if run.status in ACTIVE:
            raise Conflict(f"Run {run_id} is {run.status}; cancel it before deleting.")
        names = list(session.scalars(select(ModelName.name).where(ModelName.run_id == run_id)))
        if names:
            raise Conflict(
                f"Model name(s) {', '.join(names)} point at run {run_id}; "
                "repoint or delete them first."
            )
        artifact = run.artifact_sha256
        session.delete(run)
    delete_stored_run(settings, run_id)
    return artifact


def run_metrics(settings: Settings, run_id: str) -> list[EpochMetric]:
    with read_session(settings.resolved_database_url) as session:
        _existing(session, run_id)
        stmt = select(EpochMetric).where(EpochMetric.run_id == run_id).order_by(EpochMetric.epoch)
        return list(session.scalars(stmt))
