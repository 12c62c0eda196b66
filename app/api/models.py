"""Routes for model names."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SettingsDep
from app.db.models import ModelName
from app.runs import names

router = APIRouter(prefix="/v1/models", tags=["models"])
PROBLEM = {"content": {"application/problem+json": {}}}


class ModelNameIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"run_id": "01a210f7669cb401de3bf6"}]})

    run_id: str = Field(max_length=64, description="a succeeded run")


class ModelNameOut(BaseModel):
    name: str
    run_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ModelName) -> ModelNameOut:
        return cls(name=row.name, run_id=row.run_id, created_at=row.created_at,
                   updated_at=row.updated_at)


class ModelNameList(BaseModel):
    items: list[ModelNameOut]


@router.put("/{name}", response_model=ModelNameOut,
            responses={201: {"model": ModelNameOut, "description": "created"},
                       404: {"description": "no such run", **PROBLEM},
                       409: {"description": "run not succeeded", **PROBLEM}})
def set_model(name: str, body: ModelNameIn, settings: SettingsDep, response: Response) -> ModelNameOut:
    row, created = names.set_name(settings, name, body.run_id)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ModelNameOut.of(row)


@router.get("", response_model=ModelNameList)
def list_models(settings: SettingsDep) -> ModelNameList:
    return ModelNameList(items=[ModelNameOut.of(r) for r in names.list_names(settings)])


@router.get("/{name}", response_model=ModelNameOut, responses={404: {"description": "unknown", **PROBLEM}})
def get_model(name: str, settings: SettingsDep) -> ModelNameOut:
    return ModelNameOut.of(names.get_name(settings, name))


@router.delete("/{name}", status_code=204, responses={404: {"description": "unknown", **PROBLEM}})
def delete_model(name: str, settings: SettingsDep) -> Response:
    names.delete_name(settings, name)
    return Response(status_code=204)
