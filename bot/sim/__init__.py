"""A local Backpack Exchange: the same engine serves tests, demos, benchmarks and paper trading.

``async with Simulator(seed=1) as sim:`` starts it on a free port; ``sim.rest_url`` and
``sim.ws_url`` are what a client (ours or ccxt) points at; ``sim.engine`` is the in-memory
exchange; ``sim.control_token`` is what the ``/_sim/*`` control API wants in ``X-Sim-Token``
(a fresh random one per run unless given; ``control=False`` serves no control API at all, as
paper mode runs it).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.sim.engine import Engine, SimError
from bot.sim.hosting import HostedSimulator, control_token_for
from bot.sim.markets import MarketSpec
from bot.sim.server import SimServer

__all__ = ["Engine", "SimError", "Simulator"]


class Simulator(HostedSimulator[SimServer]):
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
        super().__init__(host, port)
        #: The ``X-Sim-Token`` of the control API; ``None`` when it is not served.
        self.control_token = control_token_for(control, control_token)
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
