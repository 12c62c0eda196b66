"""The HTTP server of ``trainserve serve``: uvicorn, saying where it listens once it does."""

from __future__ import annotations

import logging
import socket

import uvicorn

log = logging.getLogger("trainserve")


class AnnouncingServer(uvicorn.Server):
    """Logs one line with the address once the socket is bound (uvicorn's own line is at
    info level, which the service runs uvicorn below)."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        super().__init__(config)
        self.workers = workers

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            url = f"http://{self.config.host}:{self.config.port}"
            log.info(
                "trainserve listening on %s (API docs at %s/docs), %d training worker(s)",
                url,
                url,
                self.workers,
            )
