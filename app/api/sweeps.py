"""Routes for sweeps; the logic lives in app.sweeps.service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from app.api.deps import CacheDep, SettingsDep
from app.api.openapi import PROBLEM, body_of
from app.sweeps import service
from app.sweeps.schemas import SweepList, SweepOut
from app.sweeps.spec import SweepSpec

router = APIRouter(prefix="/v1/sweeps", tags=["sweeps"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such sweep", **PROBLEM},
    409: {"description": "conflict", **PROBLEM},
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SweepOut,
    responses={
        422: {"description": "invalid sweep, every problem listed; nothing stored", **PROBLEM},
        503: {"description": "dataset cannot be fetched", **PROBLEM},
    },
    openapi_extra=body_of(SweepSpec),
)
def create_sweep(
    # Read as JSON and parsed by the service, for its "did you mean" hints.
    body: Annotated[Any, Body()],
    settings: SettingsDep,
    response: Response,
) -> SweepOut:
    """Validate every trial of the search, then queue the first ones as runs."""
    sweep, runs = service.create_sweep(settings, body)
    response.headers["Location"] = f"/v1/sweeps/{sweep.id}"
    return SweepOut.of(sweep, runs)


@router.get("", response_model=SweepList)
def list_sweeps(
    settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> SweepList:
    return SweepList(items=[SweepOut.of(s, r) for s, r in service.list_sweeps(settings, limit)])


@router.get("/{sweep_id}", response_model=SweepOut, responses=_ERRORS)
def get_sweep(sweep_id: str, settings: SettingsDep) -> SweepOut:
    return SweepOut.of(*service.get_sweep(settings, sweep_id))


@router.post(
    "/{sweep_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SweepOut,
    responses=_ERRORS,
)
def cancel_sweep(sweep_id: str, settings: SettingsDep) -> SweepOut:
    """Queued trials are cancelled at once, running ones stop after their current batch."""
    return SweepOut.of(*service.cancel_sweep(settings, sweep_id))


@router.delete("/{sweep_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_sweep(sweep_id: str, settings: SettingsDep, cache: CacheDep) -> Response:
    """Deletes the sweep and its trial runs (409 while a trial is active)."""
    for key in service.delete_sweep(settings, sweep_id):
        cache.evict(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
