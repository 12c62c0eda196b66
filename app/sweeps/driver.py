"""The sweep driver: queues trials up to the sweep's budget and concludes finished sweeps.

Where it runs, and why that is durable: every training worker calls ``advance_all`` in its
poll loop (next to reaping orphaned runs) and ``advance`` right after finishing a trial; the
API calls it once when a sweep is created so its first trials are queued in the same
transaction as the sweep. All its state is in the database and each step is one locked
transaction, so any worker of any process can take over after a crash or restart, and two
workers never queue the same trial twice. A sweep only progresses while some worker runs,
which is also the only time its trials can.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.datasets.service import DatasetUnavailable
from app.datasets.service import hold as hold_dataset
from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import Run, Sweep
from app.enums import ACTIVE, RunStatus, SweepStatus
from app.errors import InvalidSpec
from app.runs.events import add_status_event
from app.runs.names import point_name
from app.runs.service import new_run
from app.runs.validation import check_spec
from app.settings import Settings
from app.sweeps.sampler import next_params
from app.sweeps.trials import best_of, past_trials, sweep_trials
from app.sweeps.validation import trial_spec

log = logging.getLogger("trainserve.sweeps")


def advance_all(settings: Settings) -> None:
    with read_session(settings.resolved_database_url) as s:
        ids = list(s.scalars(select(Sweep.id).where(Sweep.status == SweepStatus.RUNNING)))
    for sweep_id in ids:
        advance(settings, sweep_id)


def advance(settings: Settings, sweep_id: str) -> None:
    with write_session(settings.resolved_database_url) as s:
        # FOR UPDATE on PostgreSQL; SQLite's write transactions are serialised anyway.
        sweep = s.scalars(select(Sweep).where(Sweep.id == sweep_id).with_for_update()).first()
        if sweep is not None and sweep.status == SweepStatus.RUNNING:
            advance_locked(s, sweep, settings)


def advance_locked(session: Session, sweep: Sweep, settings: Settings) -> None:
    """Queue trials while the budget allows; conclude the sweep once nothing is left."""
    spec = sweep.spec
    runs = sweep_trials(session, sweep.id)
    active = sum(r.status in ACTIVE for r in runs)
    exhausted = False
    while active < spec["parallel"] and len(runs) < spec["max_runs"]:
        params = next_params(spec, past_trials(session, spec, runs))
        if params is None:
            exhausted = True
            break
        run = _new_trial(session, settings, sweep, params, len(runs) + 1)
        session.add(run)
        session.flush()
        add_status_event(session, run)
        runs.append(run)
        active += run.status in ACTIVE
    best = best_of(spec, runs)
    sweep.best_run_id = best.id if best else None
    if active == 0 and (exhausted or len(runs) >= spec["max_runs"]):
        _conclude(session, sweep, best)


def _new_trial(
    session: Session, settings: Settings, sweep: Sweep, params: dict[str, object], number: int
) -> Run:
    spec = trial_spec(sweep.spec["base"], params)
    spec.name = f"{sweep.name or 'sweep'}-{number}"[:200]
    try:
        checked, warnings = check_spec(spec, settings)
        # check_spec read the catalog in its own transaction: a deleted upload shows here.
        hold_dataset(session, checked.dataset.name, checked.dataset.version)
    except (InvalidSpec, DatasetUnavailable) as exc:
        # Sampled range values (every listed value and each range's ends were validated up
        # front) or a deleted upload: the trial is recorded as failed, the sweep goes on.
        run = new_run(spec, [], sweep_id=sweep.id, sweep_params=params)
        run.status, run.finished_at = RunStatus.FAILED, utcnow()
        run.failure_reason = "invalid trial spec: " + "; ".join(
            f"{e.pointer}: {e.message}" for e in exc.errors
        )
        return run
    return new_run(checked, warnings, sweep_id=sweep.id, sweep_params=params)


def _conclude(session: Session, sweep: Sweep, best: Run | None) -> None:
    sweep.finished_at = utcnow()
    if best is None:
        sweep.status, sweep.failure_reason = SweepStatus.FAILED, "no trial succeeded"
        log.info("sweep %s failed: no trial succeeded", sweep.id)
        return
    sweep.status = SweepStatus.SUCCEEDED
    if sweep.model_name:
        point_name(session, sweep.model_name, best.id)
    log.info("sweep %s succeeded; best run %s", sweep.id, best.id)
