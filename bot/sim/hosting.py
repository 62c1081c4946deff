"""Serving a simulator face in-process: one loopback site, its URLs, start and stop.

Both faces (Backpack's :class:`bot.sim.Simulator` and the Hyperliquid face) are async context
managers over an aiohttp app whose server object owns the background tasks (random walk,
funding, publishing); only what they serve differs.
"""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from aiohttp import web


class Served(Protocol):
    """What a face's server gives the host: its app and the tasks it runs beside it."""

    @property
    def app(self) -> web.Application: ...

    def start_tasks(self) -> None: ...

    async def stop_tasks(self) -> None: ...


def control_token_for(control: bool, given: str | None) -> str | None:
    """The run's ``X-Sim-Token`` (``given`` or a fresh random one); ``None``: no control API."""
    return (given or secrets.token_urlsafe(24)) if control else None


S = TypeVar("S", bound=Served)


class HostedSimulator(Generic[S]):
    """A face served on ``host:port`` (0: any free port, read back after start)."""

    server: S

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    async def start(self) -> None:
        runner = web.AppRunner(
            self.server.app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._runner = runner
        self.server.start_tasks()

    async def stop(self) -> None:
        await self.server.stop_tasks()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
