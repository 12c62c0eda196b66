"""Routes for datasets; the logic lives in app.datasets.service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import SettingsDep
from app.datasets import service
from app.datasets.catalog import NAME_PATTERN, REF_PATTERN, DatasetInfo
from app.datasets.formats import FormatName, Options, Part, Target
from app.datasets.formats.common import parse_size
from app.errors import FieldError, InvalidInput
from app.inference.decoding.image import WORKING_SIDE, decode_image, preprocess_digit

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
FORM_FIELDS = {
    "file",
    "images",
    "labels",
    "name",
    "format",
    "label_column",
    "label_columns",
    "target",
    "header",
    "size",
    "preprocess",
}
# Declared for clients; enforced (with a hint) by catalog.parse_ref on the same pattern.
DatasetRefPath = Annotated[
    str,
    Path(
        description="a dataset name (its latest version), or name@version for one version",
        json_schema_extra={"pattern": REF_PATTERN},
    ),
]


class DigitImages:
    """The prediction path's image decoding and MNIST recipe, for the zip-of-folders format."""

    def digit(self, data: bytes, size: tuple[int, int], pointer: str) -> np.ndarray:
        gray = decode_image(data, pointer, max_side=WORKING_SIDE)
        return preprocess_digit(gray, size, pointer=pointer)

    def gray(self, data: bytes, pointer: str) -> np.ndarray:
        return decode_image(data, pointer)


class DatasetOut(BaseModel):
    name: str
    version: int | None = Field(description="null for built-ins; uploads count from 1")
    shape: list[int]
    classes: list[int] = Field(description="class labels; empty for multilabel and value")
    num_examples: int
    source: str = Field(description='"upload", or where a built-in comes from')
    target: Target = Field(
        "label",
        description="label: class labels; multilabel: yes/no columns (label_names); value: "
        "float targets for regression. A run on the dataset trains that target",
    )
    label_names: list[str] | None = Field(None, description="multilabel: the yes/no columns")
    label_counts: dict[str, int] | None = Field(
        None, description="multilabel: examples answering yes, per column"
    )
    class_counts: dict[str, int] | None = Field(
        None, description="examples per class label (null for mnist until it is downloaded)"
    )
    sha256: str | None = Field(None, description="digest of the stored arrays (uploads)")
    dtype: str | None = Field(None, description="uint8 (0-255) or float32 (0-1) pixels")
    format: str | None = Field(None, description="the uploaded format: npz, csv, idx or zip")
    bytes: int | None = Field(None, description="size of the stored, compressed arrays")
    created_at: datetime | None = None
    versions: list[int] = Field(default_factory=list, description="every version of this name")

    @classmethod
    def of(cls, info: DatasetInfo) -> DatasetOut:
        return cls.model_validate(info.as_dict())


class DatasetList(BaseModel):
    items: list[DatasetOut]


@router.get("", response_model=DatasetList)
def list_datasets(settings: SettingsDep) -> DatasetList:
    return DatasetList(items=[DatasetOut.of(d) for d in service.list_all(settings)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetOut,
    responses={
        409: {"description": "the name exists (add ?version=new) or is a built-in", **PROBLEM},
        413: {"description": "the upload is over the size limit", **PROBLEM},
        422: {"description": "the file cannot be used; errors name the cause", **PROBLEM},
    },
)
async def upload_dataset(
    request: Request,
    response: Response,
    settings: SettingsDep,
    name: Annotated[
        str,
        Form(
            max_length=100,
            description="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            json_schema_extra={"pattern": NAME_PATTERN},
        ),
    ],
    file: Annotated[UploadFile | None, File(description="npz, CSV or zip of class folders")] = None,
    images: Annotated[UploadFile | None, File(description="IDX images (gzipped or not)")] = None,
    labels: Annotated[UploadFile | None, File(description="IDX labels (gzipped or not)")] = None,
    format: Annotated[
        FormatName | None, Form(description="detected from content when absent")
    ] = None,
    label_column: Annotated[
        str | None, Form(max_length=100, description="CSV: label column name or 0-based index")
    ] = None,
    label_columns: Annotated[
        str | None,
        Form(
            max_length=2000,
            description="CSV, target=multilabel: the 0/1 label columns, comma-separated names "
            "or 0-based indexes",
        ),
    ] = None,
    target: Annotated[
        Target,
        Form(
            description="CSV: label (whole-number classes), multilabel (several 0/1 columns) "
            "or value (floats, for regression)"
        ),
    ] = "label",
    header: Annotated[Literal["auto", "yes", "no"], Form(description="CSV: header row")] = "auto",
    size: Annotated[
        str | None, Form(max_length=20, description="HEIGHTxWIDTH of images or flat rows")
    ] = None,
    preprocess: Annotated[
        Literal["mnist", "none"], Form(description="zip: the MNIST recipe, or keep the pixels")
    ] = "mnist",
    version: Annotated[
        Literal["new"] | None, Query(description="new: add a version to an existing name")
    ] = None,
) -> DatasetOut:
    await _refuse_unknown_fields(request)
    options = _options(label_column, label_columns, target, header, size, preprocess)
    parts = {
        field: Part(field, upload.filename or "", upload.file)
        for field, upload in (("file", file), ("images", images), ("labels", labels))
        if upload is not None
    }
    up = service.Upload(name, parts, format, options, new_version=version == "new")
    info = await run_in_threadpool(service.upload, settings, up)
    response.headers["Location"] = f"/v1/datasets/{info.name}@{info.version}"
    return DatasetOut.of(info)


def _options(
    label_column: str | None,
    label_columns: str | None,
    target: Target,
    header: Literal["auto", "yes", "no"],
    size: str | None,
    preprocess: Literal["mnist", "none"],
) -> Options:
    """The format options. Those the client sent (not left at their defaults) are recorded
    with the dataset as sent, so it shows how it was uploaded."""
    fields = {"label_column": label_column, "label_columns": label_columns, "size": size}
    given = {k: v for k, v in fields.items() if v is not None}
    defaults: dict[str, tuple[str, str]] = {
        "header": (header, "auto"),
        "preprocess": (preprocess, "mnist"),
        "target": (target, "label"),
    }
    given |= {k: value for k, (value, default) in defaults.items() if value != default}
    return Options(
        label_column=label_column,
        label_columns=_columns(label_columns),
        target=target,
        header=header,
        size=parse_size(size) if size else None,
        preprocess=preprocess,
        given=given,
        images=DigitImages(),
    )


def _columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise InvalidInput(
            "The label columns cannot be read.",
            [
                FieldError(
                    "/label_columns",
                    f"{text!r} has an empty column name",
                    "list names or 0-based indexes separated by commas, e.g. even,at_least_5",
                )
            ],
        )
    return names


async def _refuse_unknown_fields(request: Request) -> None:
    """FastAPI ignores form fields it does not know; a typo in an option must not pass."""
    unknown = sorted(set((await request.form()).keys()) - FORM_FIELDS)
    if unknown:
        raise InvalidInput(
            "The upload has fields this service does not know.",
            [
                FieldError(
                    f"/{k}", f"unknown field {k!r}", f"use: {', '.join(sorted(FORM_FIELDS))}"
                )
                for k in unknown
            ],
        )


@router.get(
    "/{name}",
    response_model=DatasetOut,
    responses={404: {"description": "unknown dataset", **PROBLEM}},
)
def get_dataset(name: DatasetRefPath, settings: SettingsDep) -> DatasetOut:
    return DatasetOut.of(service.get(settings, name))


@router.get(
    "/{name}/preview.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "a grid of examples per class"},
        404: {"description": "unknown dataset", **PROBLEM},
    },
)
def preview_dataset(name: DatasetRefPath, settings: SettingsDep) -> Response:
    png = service.preview_png(settings, name)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        404: {"description": "unknown dataset", **PROBLEM},
        409: {"description": "a built-in, or a queued or running run uses it", **PROBLEM},
    },
)
def delete_dataset(name: DatasetRefPath, settings: SettingsDep) -> Response:
    service.delete(settings, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
