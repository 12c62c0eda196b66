"""Routes for training runs; the logic lives in app.runs.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import FileResponse
from sse_starlette.sse import EventSourceResponse

from app.api.deps import CacheDep, SettingsDep
from app.errors import Conflict, NotFound
from app.runs import service
from app.runs.compare import compare_runs, compared_ids
from app.runs.schemas import Comparison, EpochOut, MetricsOut, RunList, RunOut, RunStatus
from app.runs.spec import RunSpec
from app.runs.stream import run_event_stream

router = APIRouter(prefix="/v1/runs", tags=["runs"])

PROBLEM = {"content": {"application/problem+json": {}}}
_ERRORS = {404: {"description": "no such run", **PROBLEM}, 409: {"description": "conflict", **PROBLEM}}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut,
             responses={200: {"model": RunOut, "description": "replay of an Idempotency-Key"},
                        409: {"description": "Idempotency-Key reused with another body", **PROBLEM},
                        422: {"description": "invalid spec, every problem listed", **PROBLEM},
                        503: {"description": "dataset cannot be fetched", **PROBLEM}})
def create_run(spec: RunSpec, settings: SettingsDep, response: Response,
               idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> RunOut:
    run, created = service.create_run(settings, spec, idempotency_key)
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return RunOut.of(run)


@router.get("", response_model=RunList)
def list_runs(settings: SettingsDep, status_: Annotated[RunStatus | None, Query(alias="status")] = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              cursor: Annotated[str | None, Query(max_length=64)] = None) -> RunList:
    runs, next_cursor = service.list_runs(settings, status_, limit, cursor)
    return RunList(items=[RunOut.of(r) for r in runs], next_cursor=next_cursor)


@router.get("/compare", response_model=Comparison, responses={
    404: {"description": "an unknown run id", **PROBLEM},
    422: {"description": "fewer than 2 or more than 10 ids", **PROBLEM}})
def compare(settings: SettingsDep, ids: Annotated[list[str] | None, Query(
        description="2 to 10 run ids, repeated (?ids=A&ids=B) or comma-separated")] = None,
            ) -> Comparison:
    """Runs side by side: the spec differences, each run's training and test metrics, the best."""
    return Comparison.model_validate(compare_runs(settings, compared_ids(ids or [])))


@router.get("/{run_id}", response_model=RunOut, responses=_ERRORS)
def get_run(run_id: str, settings: SettingsDep) -> RunOut:
    return RunOut.of(service.get_run(settings, run_id))


@router.post("/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut,
             responses=_ERRORS)
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


@router.get("/{run_id}/model", response_class=FileResponse, responses={
    200: {"content": {"application/octet-stream": {}}, "description": "the trained .keras file"},
    **_ERRORS})
def download_model(run_id: str, settings: SettingsDep) -> FileResponse:
    run = service.get_run(settings, run_id)
    if run.status != "succeeded":
        raise Conflict(f"Run {run_id} is {run.status}; only succeeded runs have a model.")
    path = settings.runs_dir / run_id / "model.keras"
    if not path.exists():
        raise NotFound(f"The model file of run {run_id} is missing from the data dir.")
    return FileResponse(path, media_type="application/octet-stream",
                        filename=f"{run.name}-{run_id}.keras")


@router.get("/{run_id}/events", response_class=EventSourceResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "events status, epoch and done; resume with Last-Event-ID"}, **_ERRORS})
async def run_events(run_id: str, request: Request, settings: SettingsDep,
                     last_event_id: Annotated[str | None, Header()] = None) -> EventSourceResponse:
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(service.get_run, settings, run_id)
    after = _event_id(last_event_id)
    return EventSourceResponse(run_event_stream(settings, run_id, after, request),
                               ping=10, send_timeout=30)


def _event_id(header: str | None) -> int:
    """A resume point from Last-Event-ID; anything we did not send means 'from the start'."""
    if header and header.isascii() and header.isdigit() and len(header) <= 18:
        return int(header)
    return 0
