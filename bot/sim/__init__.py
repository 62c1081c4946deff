"""A local Backpack Exchange: the same engine serves tests, demos, benchmarks and paper trading.

``async with Simulator(seed=1) as sim:`` starts it on a free port; ``sim.rest_url`` and
``sim.ws_url`` are what a client (ours or ccxt) points at; ``sim.engine`` is the in-memory
exchange; ``sim.control_token`` is what the ``/_sim/*`` control API wants in ``X-Sim-Token``
(a fresh random one per run unless given; ``control=False`` serves no control API at all, as
paper mode runs it).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.sim.engine import Engine, SimError
from bot.sim.markets import MarketSpec
from bot.sim.server import SimServer

__all__ = ["Engine", "SimError", "Simulator"]


class Simulator:
    """The simulator as an async context manager (in-process)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        balance: Decimal | int | str = 100000,
        funding_interval: int = 3600,
        auth_status: int = 401,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float = 0.5,
        publish_interval: float = 1.0,
        random_walk: bool = True,
        state_path: Path | None = None,
        markets: list[MarketSpec] | None = None,
        clock: Clock | None = None,
        control: bool = True,
        control_token: str | None = None,
    ) -> None:
        self.host = host
        #: The ``X-Sim-Token`` of the control API; ``None`` when it is not served.
        self.control_token = (control_token or secrets.token_urlsafe(24)) if control else None
        self.port = port
        self.clock = clock or SystemClock()
        self.engine = Engine(
            seed=seed,
            balance=Decimal(str(balance)),
            funding_interval=funding_interval,
            clock=self.clock,
            markets=markets,
        )
        self.server = SimServer(
            self.engine,
            auth_status=auth_status,
            tick_interval=tick_interval,
            publish_interval=publish_interval,
            random_walk=random_walk,
            state_path=state_path,
            clock=self.clock,
            control_token=self.control_token,
        )
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
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._runner = runner
        self.server.start_tasks()

    async def stop(self) -> None:
        await self.server.stop_tasks()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
