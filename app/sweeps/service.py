"""Sweep operations for the API: plain functions over settings, testable without HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.datasets.builtin import ensure_available
from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import ModelName, Run, Sweep
from app.enums import ACTIVE, SweepStatus
from app.errors import Conflict, NotFound
from app.runs.ids import is_run_id, new_run_id
from app.runs.service import cancel_in_session
from app.settings import Settings
from app.storage.runs import delete_run as delete_stored_run
from app.sweeps.driver import advance_locked
from app.sweeps.parsing import parse_sweep
from app.sweeps.spec import SweepSpec
from app.sweeps.trials import sweep_trials
from app.sweeps.validation import check_sweep


def create_sweep(settings: Settings, body: SweepSpec | dict[str, Any]) -> tuple[Sweep, list[Run]]:
    """Validate every trial, then store the sweep and queue its first trials atomically.
    ``body`` is a parsed sweep, or the JSON a client sent."""
    sweep_in = body if isinstance(body, SweepSpec) else parse_sweep(body)
    spec, warnings = check_sweep(sweep_in, settings)
    base = spec["base"]
    ensure_available(
        base["dataset"]["name"], settings.data_dir, settings.mnist_url, settings.download_timeout
    )
    with write_session(settings.resolved_database_url) as s:
        sweep = Sweep(
            id=new_run_id(),
            name=spec["name"] or f"{base['dataset']['name']}-sweep",
            status=SweepStatus.RUNNING,
            spec=spec,
            warnings=[w.as_dict() for w in warnings],
            model_name=spec["model_name"],
        )
        s.add(sweep)
        s.flush()
        advance_locked(s, sweep, settings)
        return sweep, sweep_trials(s, sweep.id)


def _existing(session: Session, sweep_id: str) -> Sweep:
    sweep = session.get(Sweep, sweep_id) if is_run_id(sweep_id) else None
    if sweep is None:
        raise NotFound(f"No sweep with id {sweep_id!r}.")
    return sweep


def get_sweep(settings: Settings, sweep_id: str) -> tuple[Sweep, list[Run]]:
    with read_session(settings.resolved_database_url) as s:
        sweep = _existing(s, sweep_id)
        return sweep, sweep_trials(s, sweep_id)


def list_sweeps(settings: Settings, limit: int = 50) -> list[tuple[Sweep, list[Run]]]:
    with read_session(settings.resolved_database_url) as s:
        sweeps = list(s.scalars(select(Sweep).order_by(Sweep.id.desc()).limit(limit)))
        return [(sw, sweep_trials(s, sw.id)) for sw in sweeps]


def cancel_sweep(settings: Settings, sweep_id: str) -> tuple[Sweep, list[Run]]:
    """Stop queuing trials; cancel the queued ones and ask running ones to stop."""
    with write_session(settings.resolved_database_url) as s:
        sweep = (
            s.scalars(select(Sweep).where(Sweep.id == sweep_id).with_for_update()).first()
            if is_run_id(sweep_id)
            else None
        )
        if sweep is None:
            raise NotFound(f"No sweep with id {sweep_id!r}.")
        if sweep.status != SweepStatus.RUNNING:
            raise Conflict(
                f"Sweep {sweep_id} already finished ({sweep.status}); nothing to cancel."
            )
        sweep.status, sweep.finished_at = SweepStatus.CANCELLED, utcnow()
        sweep.failure_reason = "cancelled by the user"
        runs = sweep_trials(s, sweep_id)
        for run in runs:
            cancel_in_session(s, run, why="with its sweep")
        return sweep, runs


def delete_sweep(settings: Settings, sweep_id: str) -> list[tuple[str, str | None]]:
    """Delete a finished sweep with its trial runs and their files; returns (run id, artifact
    hash) of each deleted run, for the caller to evict from its caches."""
    with write_session(settings.resolved_database_url) as s:
        sweep = _existing(s, sweep_id)
        runs = sweep_trials(s, sweep_id)
        if sweep.status == SweepStatus.RUNNING or any(r.status in ACTIVE for r in runs):
            raise Conflict(
                f"Sweep {sweep_id} still has active trials; cancel it "
                f"(POST /v1/sweeps/{sweep_id}/cancel) and wait for them to stop."
            )
        ids = [r.id for r in runs]
        names = list(s.scalars(select(ModelName.name).where(ModelName.run_id.in_(ids))))
        if names:
            raise Conflict(
                f"Model name(s) {', '.join(names)} point at trials of sweep {sweep_id}; "
                "repoint or delete them first."
            )
        gone = [(r.id, r.artifact_sha256) for r in runs]
        for run in runs:
            s.delete(run)
        s.flush()
        s.delete(sweep)
    for run_id, _ in gone:
        delete_stored_run(settings, run_id)
    return gone


def best_run_id(settings: Settings, sweep_id: str) -> str:
    """The best trial of a sweep, for pointing a model name at it."""
    from app.sweeps.trials import best_of

    sweep, runs = get_sweep(settings, sweep_id)
    best = best_of(sweep.spec, runs)
    if best is None:
        raise Conflict(f"Sweep {sweep_id} has no succeeded trial yet; nothing to point at.")
    return best.id
