"""Routes for model names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SettingsDep
from app.api.openapi import PROBLEM
from app.db.tables import ModelName
from app.errors import FieldError, InvalidInput
from app.runs import names
from app.runs.ids import MODEL_NAME_SCHEMA
from app.settings import Settings
from app.sweeps import service as sweeps

router = APIRouter(prefix="/v1/models", tags=["models"])

# Documented for clients; enforced (with a hint) by names.check_name on the same patterns.
ModelNamePath = Annotated[
    str,
    Path(
        description="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit; "
        "not shaped like a run id",
        json_schema_extra=MODEL_NAME_SCHEMA,
    ),
]


class ModelNameIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"run_id": "01a210f7669cb401de3bf6"}],
            # Exactly one target, as _target enforces: said in the schema so that a client
            # generated from it does not send {} or both and meet an undocumented 422.
            "oneOf": [
                {"required": ["run_id"], "properties": {"run_id": {"type": "string"}}},
                {"required": ["sweep_id"], "properties": {"sweep_id": {"type": "string"}}},
            ],
        },
    )

    run_id: str | None = Field(None, max_length=64, description="a succeeded run")
    sweep_id: str | None = Field(
        None, max_length=64, description="a sweep: the name points at its best trial"
    )


class ModelNameOut(BaseModel):
    name: str
    run_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ModelName) -> ModelNameOut:
        return cls(
            name=row.name, run_id=row.run_id, created_at=row.created_at, updated_at=row.updated_at
        )


class ModelNameList(BaseModel):
    items: list[ModelNameOut]


@router.put(
    "/{name}",
    response_model=ModelNameOut,
    responses={
        201: {"model": ModelNameOut, "description": "created"},
        404: {"description": "no such run or sweep", **PROBLEM},
        409: {"description": "run not succeeded, or sweep without a succeeded trial", **PROBLEM},
        422: {"description": "neither or both of run_id and sweep_id", **PROBLEM},
    },
)
def set_model(
    name: ModelNamePath, body: ModelNameIn, settings: SettingsDep, response: Response
) -> ModelNameOut:
    row, created = names.set_name(settings, name, _target(settings, body))
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ModelNameOut.of(row)


def _target(settings: Settings, body: ModelNameIn) -> str:
    if (body.run_id is None) == (body.sweep_id is None):
        raise InvalidInput(
            "Give exactly one of run_id and sweep_id.",
            [FieldError("", "name a run or a sweep", 'send {"run_id": ...} or {"sweep_id": ...}')],
        )
    if body.sweep_id is not None:
        return sweeps.best_run_id(settings, body.sweep_id)
    assert body.run_id is not None
    return body.run_id


@router.get("", response_model=ModelNameList)
def list_models(settings: SettingsDep) -> ModelNameList:
    return ModelNameList(items=[ModelNameOut.of(r) for r in names.list_names(settings)])


@router.get(
    "/{name}", response_model=ModelNameOut, responses={404: {"description": "unknown", **PROBLEM}}
)
def get_model(name: ModelNamePath, settings: SettingsDep) -> ModelNameOut:
    return ModelNameOut.of(names.get_name(settings, name))


@router.delete("/{name}", status_code=204, responses={404: {"description": "unknown", **PROBLEM}})
def delete_model(name: ModelNamePath, settings: SettingsDep) -> Response:
    names.delete_name(settings, name)
    return Response(status_code=204)
