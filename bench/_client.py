"""A minimal keep-alive HTTP/1.1 load generator on asyncio streams, for bench/predict.py.

Each request is encoded once (by httpx, so multipart and JSON are built correctly) and then
written as raw bytes; each response is read by Content-Length. Per request this costs far
less client CPU than httpx or aiohttp, which matters when client and server share 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Prepared:
    host: str
    port: int
    raw: bytes


@dataclass
class Result:
    latencies: list[float]
    wall: float


def prepare(url: str, **content: Any) -> Prepared:
    """``content``: json=... or files=... as for httpx."""
    request = httpx.Request("POST", url, **content)
    body = request.read()
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = [f"POST {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in request.headers.items()]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    return Prepared(parts.hostname or "127.0.0.1", parts.port or 80, raw)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> bytes:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
    body = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return body


async def _run(req: Prepared, count: int, concurrency: int, max_seconds: float) -> Result:
    conns = [await asyncio.open_connection(req.host, req.port) for _ in range(concurrency)]
    latencies: list[float] = []
    remaining = count
    start = time.perf_counter()
    deadline = start + max_seconds

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            t0 = time.perf_counter()
            await _exchange(reader, writer, req.raw)
            latencies.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(client(r, w) for r, w in conns))
        wall = time.perf_counter() - start
    finally:
        for _, writer in conns:
            writer.close()
    return Result(latencies, wall)


def load(req: Prepared, count: int, concurrency: int, max_seconds: float = 1e9) -> Result:
    """``count`` requests from ``concurrency`` connections (stopping early at ``max_seconds``)."""
    return _loop_runner()(_run(req, count, concurrency, max_seconds))


def fetch_json(req: Prepared) -> Any:
    async def once() -> Any:
        reader, writer = await asyncio.open_connection(req.host, req.port)
        try:
            return json.loads(await _exchange(reader, writer, req.raw))
        finally:
            writer.close()

    return _loop_runner()(once())


def _loop_runner() -> Any:
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run
