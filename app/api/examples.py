"""Example run specs for the dashboard's editor; the logic lives in app.runs.examples."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.runs.examples import list_examples

router = APIRouter(prefix="/v1/examples", tags=["runs"])


class Example(BaseModel):
    name: str
    spec: dict[str, Any]


class ExampleList(BaseModel):
    items: list[Example]


@router.get("", response_model=ExampleList)
def examples() -> ExampleList:
    """The example specs shipped in ``models/`` (empty when the install has none)."""
    return ExampleList.model_validate({"items": list_examples()})
