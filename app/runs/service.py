"""Run operations for the API: plain functions over a database URL, testable without HTTP."""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db.base import utcnow
from app.db.models import EpochMetric, ModelName, Run
from app.db.session import read_session, write_session
from app.errors import Conflict, InvalidInput, NotFound
from app.runs.events import add_status_event
from app.runs.ids import is_run_id, new_run_id
from app.runs.schemas import ACTIVE, FINISHED
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from app.training.datasets import ensure_available


def spec_digest(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def create_run(settings: Settings, spec_in: RunSpec,
               idempotency_key: str | None = None) -> tuple[Run, bool]:
    """Validate and queue a run; returns it and whether it was created by this call."""
    spec, warnings = check_spec(spec_in, settings)
    ensure_available(spec.dataset.name, settings.data_dir, settings.mnist_url,
                     settings.download_timeout)
    spec_dict = spec.model_dump(mode="json")
    digest = spec_digest(spec_dict)
    url = settings.resolved_database_url
    try:
        with write_session(url) as session:
            if idempotency_key and (existing := _by_key(session, idempotency_key)) is not None:
                return _replay(existing, digest), False
            run = Run(id=new_run_id(), name=spec.name or f"{spec.dataset.name}-run", status="queued",
                      spec=spec_dict, spec_sha256=digest, idempotency_key=idempotency_key,
                      warnings=[w.as_dict() for w in warnings], epochs=spec.training.epochs,
                      reproducibility={})
            session.add(run)
            session.flush()
            add_status_event(session, run)
        return run, True
    except IntegrityError:
        # A concurrent POST with the same key won the insert (PostgreSQL path).
        with read_session(url) as session:
            existing = _by_key(session, idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return _replay(existing, digest), False


def _existing(session: Any, run_id: str) -> Run:
    run = session.get(Run, run_id) if is_run_id(run_id) else None
    if run is None:
        raise NotFound(f"No run with id {run_id!r}.")
    return run


def _by_key(session: Any, key: str) -> Run | None:
    return session.scalars(select(Run).where(Run.idempotency_key == key)).first()


def _replay(existing: Run, digest: str) -> Run:
    if existing.spec_sha256 != digest:
        raise Conflict("This Idempotency-Key was already used with a different run spec "
                       f"(run {existing.id}); use a new key for a new run.")
    return existing


def get_run(settings: Settings, run_id: str) -> Run:
    with read_session(settings.resolved_database_url) as session:
        run = _existing(session, run_id)
        return run


def list_runs(settings: Settings, status: str | None, limit: int,
              cursor: str | None) -> tuple[list[Run], str | None]:
    if cursor is not None and not is_run_id(cursor):  # the cursor is the last id of a page
        raise InvalidInput("The cursor is not one this service handed out.",
                           status=400)
    stmt = select(Run).order_by(Run.id.desc()).limit(limit + 1)
    if status:
        stmt = stmt.where(Run.status == status)
    if cursor:
        stmt = stmt.where(Run.id < cursor)
    with read_session(settings.resolved_database_url) as session:
        runs = list(session.scalars(stmt))
    page, more = runs[:limit], len(runs) > limit
    return page, (page[-1].id if more and page else None)


def cancel_run(settings: Settings, run_id: str) -> Run:
    with write_session(settings.resolved_database_url) as session:
        run = _existing(session, run_id)
        if run.status in FINISHED:
            raise Conflict(f"Run {run_id} already finished ({run.status}); nothing to cancel.")
        if run.status == "queued":
            run.status, run.finished_at = "cancelled", utcnow()
            run.failure_reason = "cancelled by the user before it started"
            add_status_event(session, run)
        elif run.status == "running":
            # The worker sees this at its next heartbeat and stops after the current batch.
            run.status = "cancelling"
            add_status_event(session, run)
        return run


def delete_run(settings: Settings, run_id: str) -> str | None:
    """Delete a finished run and its files; returns its artifact hash (to evict caches)."""
    with write_session(settings.resolved_database_url) as session:
        run = _existing(session, run_id)
        if run.status in ACTIVE:
            raise Conflict(f"Run {run_id} is {run.status}; cancel it before deleting.")
        names = list(session.scalars(select(ModelName.name).where(ModelName.run_id == run_id)))
        if names:
            raise Conflict(f"Model name(s) {', '.join(names)} point at run {run_id}; "
                           "repoint or delete them first.")
        artifact = run.artifact_sha256
        session.delete(run)
    shutil.rmtree(settings.runs_dir / run_id, ignore_errors=True)
    return artifact


def run_metrics(settings: Settings, run_id: str) -> list[EpochMetric]:
    with read_session(settings.resolved_database_url) as session:
        _existing(session, run_id)
        stmt = select(EpochMetric).where(EpochMetric.run_id == run_id).order_by(EpochMetric.epoch)
        return list(session.scalars(stmt))
