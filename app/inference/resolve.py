"""Which trained model a prediction request means, loaded through the process's model cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db.models import ModelName, Run
from app.db.session import read_session
from app.errors import Conflict, NotFound
from app.inference.cache import ModelCache
from app.inference.predictor import Predictor
from app.settings import Settings
from app.training.artifacts import MODEL_FILE


@dataclass(frozen=True)
class Target:
    run_id: str
    name: str
    spec: dict[str, Any]
    artifact_sha256: str


def by_run(settings: Settings, run_id: str) -> Target:
    with read_session(settings.resolved_database_url) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"No run with id {run_id!r}.")
        return _servable(run, run.name)


def by_name(settings: Settings, name: str) -> Target:
    with read_session(settings.resolved_database_url) as session:
        row = session.get(ModelName, name)
        if row is None:
            raise NotFound(f"No model named {name!r}; PUT /v1/models/{name} with a run_id first.")
        return _servable(session.get_one(Run, row.run_id), name)


def by_name_or_run(settings: Settings, ref: str) -> Target:
    """Open Inference Protocol model names may be either."""
    try:
        return by_name(settings, ref)
    except NotFound:
        try:
            return by_run(settings, ref)
        except NotFound:
            raise NotFound(f"No model named {ref!r} and no run with that id.") from None


def _servable(run: Run, name: str) -> Target:
    if run.status != "succeeded" or not run.artifact_sha256:
        raise Conflict(f"Run {run.id} is {run.status}; only succeeded runs can predict.")
    return Target(run.id, name, run.spec, run.artifact_sha256)


def predictor(cache: ModelCache, settings: Settings, target: Target) -> Predictor:
    """The cached predictor; keyed by artifact hash so a changed file is never served stale."""
    def load() -> Predictor:
        path = settings.runs_dir / target.run_id / MODEL_FILE
        if not path.exists():
            raise Conflict(f"The model file of run {target.run_id} is missing from the data dir; "
                           "retrain the run.")
        return Predictor.load(path, target.artifact_sha256, target.spec, target.run_id, target.name)

    return cache.get((target.run_id, target.artifact_sha256), load)
