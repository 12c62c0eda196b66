"""Routes for training runs; the logic lives in app.runs.service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.responses import FileResponse
from sse_starlette.sse import EventSourceResponse

from app.api.deps import CacheDep, SettingsDep
from app.api.openapi import PROBLEM, body_of
from app.enums import RunStatus
from app.runs import service
from app.runs.compare import MAX_COMPARED, compare_runs, compared_ids
from app.runs.listing import run_list_json
from app.runs.misclassified import misclassified
from app.runs.schemas import (
    Comparison,
    EpochOut,
    MetricsOut,
    MisclassifiedList,
    Problem,
    RunList,
    RunOut,
    Validated,
)
from app.runs.spec import RunSpec
from app.runs.stream import run_event_stream
from app.training.downloads import MEDIA_TYPES, model_download

router = APIRouter(prefix="/v1/runs", tags=["runs"])


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run", **PROBLEM},
    409: {"description": "conflict", **PROBLEM},
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses={
        200: {"model": RunOut, "description": "replay of an Idempotency-Key"},
        409: {"description": "Idempotency-Key reused with another body", **PROBLEM},
        422: {"description": "invalid spec, every problem listed", **PROBLEM},
        503: {"description": "dataset cannot be fetched", **PROBLEM},
    },
    openapi_extra=body_of(RunSpec),
)
def create_run(
    # Read as JSON and parsed by the service, so schema and semantic problems come together.
    spec: Annotated[Any, Body()],
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> RunOut:
    run, created = service.create_run(settings, spec, idempotency_key)
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return RunOut.of(run)


@router.post(
    "/validate",
    response_model=Validated,
    responses={422: {"description": "invalid spec, every problem listed", **PROBLEM}},
    openapi_extra=body_of(RunSpec),
)
def validate_run(spec: Annotated[Any, Body()], settings: SettingsDep) -> Validated:
    """The checks of POST /v1/runs without queueing anything: the normalised spec and its
    warnings, or the same 422 problem with every pointer."""
    checked, warnings = service.validate_spec(settings, spec)
    return Validated(
        spec=checked.model_dump(mode="json"), warnings=[Problem(**w.as_dict()) for w in warnings]
    )


@router.get(
    "",
    response_model=RunList,
    responses={400: {"description": "a cursor this service did not hand out", **PROBLEM}},
)
def list_runs(
    settings: SettingsDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    # RunList's JSON, serialised by listing.py with each spec passed through as stored.
    return Response(run_list_json(settings, status_, limit, cursor), media_type="application/json")


@router.get(
    "/compare",
    response_model=Comparison,
    responses={
        404: {"description": "an unknown run id", **PROBLEM},
        422: {"description": "fewer than 2 or more than 10 ids", **PROBLEM},
    },
)
def compare(
    settings: SettingsDep,
    ids: Annotated[
        list[str],
        Query(
            description="2 to 10 distinct run ids, repeated: ?ids=A&ids=B "
            "(?ids=A,B is accepted too)",
            json_schema_extra={
                "minItems": 2,
                "maxItems": MAX_COMPARED,
                "uniqueItems": True,
                # one id per value, no surrounding blanks: what compared_ids keeps as given
                "items": {"type": "string", "pattern": r"^[^,\s](?:[^,]*[^,\s])?$"},
            },
        ),
    ],
) -> Comparison:
    """Runs side by side: the spec differences, each run's training and test metrics, the best."""
    return Comparison.model_validate(compare_runs(settings, compared_ids(ids)))


@router.get("/{run_id}", response_model=RunOut, responses=_ERRORS)
def get_run(run_id: str, settings: SettingsDep) -> RunOut:
    return RunOut.of(service.get_run(settings, run_id))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses=_ERRORS,
)
def cancel_run(run_id: str, settings: SettingsDep) -> RunOut:
    return RunOut.of(service.cancel_run(settings, run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_run(run_id: str, settings: SettingsDep, cache: CacheDep) -> Response:
    artifact = service.delete_run(settings, run_id)
    cache.evict((run_id, artifact))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{run_id}/metrics", response_model=MetricsOut, responses=_ERRORS)
def run_metrics(run_id: str, settings: SettingsDep) -> MetricsOut:
    rows = service.run_metrics(settings, run_id)
    return MetricsOut(run_id=run_id, epochs=[EpochOut.of(m) for m in rows])


@router.get(
    "/{run_id}/errors",
    response_model=MisclassifiedList,
    responses={
        404: {"description": "no such run", **PROBLEM},
        409: {"description": "not a succeeded single-label classifier", **PROBLEM},
    },
)
def run_errors(
    run_id: str,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=64)] = 32,
) -> MisclassifiedList:
    """Held-out test images the trained model got wrong, most confidently wrong first."""
    return MisclassifiedList.model_validate(misclassified(settings, run_id, limit))


@router.get(
    "/{run_id}/model",
    response_class=FileResponse,
    responses={
        200: {
            "content": {m: {} for m in sorted(set(MEDIA_TYPES.values()))},
            "description": "the trained model: .keras, or its verified .onnx or .tflite export",
        },
        404: {"description": "no such run, or an unknown format", **PROBLEM},
        409: {"description": "run not succeeded, or that export is unavailable", **PROBLEM},
    },
)
def download_model(
    run_id: str,
    settings: SettingsDep,
    fmt: Annotated[
        str, Query(alias="format", max_length=32, description="keras (default), onnx or tflite")
    ] = "keras",
) -> FileResponse:
    found = model_download(settings, run_id, fmt)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.filename,
        headers={"ETag": f'"{found.sha256}"'},
    )


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "events status, epoch and done; resume with Last-Event-ID",
        },
        **_ERRORS,
    },
)
async def run_events(
    run_id: str,
    request: Request,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(service.get_run, settings, run_id)
    after = _event_id(last_event_id)
    return EventSourceResponse(
        run_event_stream(settings, run_id, after, request), ping=10, send_timeout=30
    )


def _event_id(header: str | None) -> int:
    """A resume point from Last-Event-ID; anything we did not send means 'from the start'."""
    if header and header.isascii() and header.isdigit() and len(header) <= 18:
        return int(header)
    return 0


@router.head(
    "/{run_id}/model",
    response_class=FileResponse,
    responses={200: {"description": "the model file's headers (size, name), no body"}, **_ERRORS},
)
def model_headers(run_id: str, settings: SettingsDep) -> FileResponse:
    """What GET would send, without the body (``curl -I``, download managers, proxies)."""
    return download_model(run_id, settings)
