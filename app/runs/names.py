"""Model names: stable handles (``prod``, ``latest``) pointing at succeeded runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import ModelName, Run
from app.enums import RunStatus
from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.runs.ids import is_model_name, is_run_id
from app.settings import Settings


def check_name(name: str) -> None:
    if not is_model_name(name):
        raise InvalidInput(
            f"{name!r} is not a valid model name.",
            [
                FieldError(
                    "/name",
                    "names are 1-100 letters, digits, '.', '_' or '-', starting with a letter "
                    "or digit, and must not look like a run id",
                    "use e.g. 'prod' or 'digits-v2'",
                )
            ],
        )


def _named(session: Session, name: str) -> ModelName | None:
    # A string that cannot be a name names nothing; see app.runs.ids for why it is not asked.
    return session.get(ModelName, name) if is_model_name(name) else None


def set_name(settings: Settings, name: str, run_id: str) -> tuple[ModelName, bool]:
    """Point ``name`` at a succeeded run; returns the row and whether it was created."""
    check_name(name)
    with write_session(settings.resolved_database_url) as session:
        run = session.get(Run, run_id) if is_run_id(run_id) else None
        if run is None:
            raise NotFound(f"No run with id {run_id!r}.")
        if run.status != RunStatus.SUCCEEDED:
            raise Conflict(
                f"Run {run_id} is {run.status}; a name can only point at a succeeded run."
            )
        return point_name(session, name, run_id)


def point_name(session: Session, name: str, run_id: str) -> tuple[ModelName, bool]:
    """Create or repoint ``name`` inside the caller's transaction (the run is checked)."""
    row = session.get(ModelName, name)
    created = row is None
    if row is None:
        row = ModelName(name=name, run_id=run_id)
        session.add(row)
    else:
        row.run_id, row.updated_at = run_id, utcnow()
    return row, created


def get_name(settings: Settings, name: str) -> ModelName:
    with read_session(settings.resolved_database_url) as session:
        row = _named(session, name)
    if row is None:
        raise NotFound(f"No model named {name!r}; PUT /v1/models/{name} to create it.")
    return row


def list_names(settings: Settings) -> list[ModelName]:
    with read_session(settings.resolved_database_url) as session:
        return list(session.scalars(select(ModelName).order_by(ModelName.name)))


def delete_name(settings: Settings, name: str) -> None:
    with write_session(settings.resolved_database_url) as session:
        row = _named(session, name)
        if row is None:
            raise NotFound(f"No model named {name!r}.")
        session.delete(row)
