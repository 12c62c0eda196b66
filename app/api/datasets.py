from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.errors import NotFound
from app.training.datasets import CATALOG

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


class DatasetOut(BaseModel):
    name: str
    shape: list[int]
    classes: list[int]
    num_examples: int
    source: str


class DatasetList(BaseModel):
    items: list[DatasetOut]


@router.get("", response_model=DatasetList)
def list_datasets() -> DatasetList:
    return DatasetList(items=[DatasetOut(**d.as_dict()) for d in CATALOG.values()])  # type: ignore[arg-type]


@router.get("/{name}", response_model=DatasetOut, responses={404: {"description": "unknown dataset"}})
def get_dataset(name: str) -> DatasetOut:
    info = CATALOG.get(name)
    if info is None:
        raise NotFound(f"No dataset named {name!r}; known: {', '.join(CATALOG)}.")
    return DatasetOut(**info.as_dict())  # type: ignore[arg-type]
