"""Explicit dependencies for routes: settings, the API key check, the loaded models."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from app.errors import Unauthorized
from app.inference.cache import ModelCache
from app.inference.resolve import ModelLookup
from app.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="required when TRAINSERVE_API_KEY is set"
)


async def require_api_key(
    settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    check_api_key(settings, key)


def check_api_key(settings: Settings, key: str | None) -> None:
    if not settings.api_key:
        return
    # Compare against every key in constant time so timing tells nothing about which failed.
    given = (key or "").encode()
    ok = False
    for expected in settings.api_key:
        ok |= hmac.compare_digest(given, expected.encode())
    if not ok:
        raise Unauthorized()


async def get_model_cache(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.model_cache
    return cache


async def get_model_lookup(request: Request) -> ModelLookup:
    lookup: ModelLookup = request.app.state.model_lookup
    return lookup


CacheDep = Annotated[ModelCache, Depends(get_model_cache)]
LookupDep = Annotated[ModelLookup, Depends(get_model_lookup)]
