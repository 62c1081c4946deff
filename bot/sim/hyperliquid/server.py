"""The Hyperliquid face's HTTP server: ``POST /info``, ``POST /exchange`` and the control API.

``async with HyperliquidSimulator(seed=1) as sim:`` serves it on a free port; point ccxt's
``hyperliquid`` class at ``sim.rest_url`` (``exchange.urls["api"] = {"public": url,
"private": url}``). ``python -m bot.sim --venue hyperliquid`` runs it as a process.

The control API has the Backpack face's paths and JSON (``/_sim/price``, ``/_sim/funding``,
``/_sim/settle``, ``/_sim/state``, ``/_sim/reset``; ``symbol`` may be the coin, ``"BTC"``,
or the engine's ``"BTC_USDC_PERP"``) plus what only this venue needs: ``/_sim/deposit
{"user","amount"}`` funds a wallet, ``/_sim/agent {"user","agent"[,"name"]}`` approves an API
wallet, ``/_sim/subaccount {"master","sub"}`` makes ``sub`` a sub-account (a
``vaultAddress``) of ``master``. Every control route goes through :meth:`HyperliquidServer.
_control`, the one place a guard applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.sim.engine import Engine
from bot.sim.hyperliquid.exchange import ExchangeActions
from bot.sim.hyperliquid.info import Info
from bot.sim.hyperliquid.state import Venue, VenueState
from bot.sim.hyperliquid.wire import WireError, address, hyperliquid_markets
from bot.sim.markets import MarketSpec
from bot.sim.model import SimError
from bot.sim.store import StateStore, write_durably

log = logging.getLogger("bot.sim.hyperliquid")
JSON = "application/json"
ControlFn = Callable[[dict[str, Any]], Any]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=status, content_type=JSON
    )


class HyperliquidServer:
    """Routes and the periodic market task over one :class:`Engine`."""

    def __init__(
        self,
        engine: Engine,
        *,
        tick_interval: float = 0.5,
        random_walk: bool = True,
        state_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.venue = Venue(engine)
        self.info = Info(self.venue)
        self.actions = ExchangeActions(self.venue)
        self.tick_interval = tick_interval
        self.random_walk = random_walk
        self.store: StateStore | None = None
        self.venue_path: Path | None = None
        if state_path is not None:
            self.store = StateStore(state_path)
            self.store.load(engine)
            self.venue_path = state_path.with_name(state_path.name + ".hyperliquid.json")
            if self.venue_path.exists():
                self.venue.state = VenueState.load(json.loads(self.venue_path.read_text()))
        self._task: asyncio.Task[None] | None = None
        self.app = web.Application()
        self.app.router.add_post("/info", self._info)
        self.app.router.add_post("/exchange", self._exchange)
        controls: dict[str, ControlFn] = {
            "/_sim/price": self._ctl_price,
            "/_sim/funding": self._ctl_funding,
            "/_sim/settle": self._ctl_settle,
            "/_sim/reset": self._ctl_reset,
            "/_sim/deposit": self._ctl_deposit,
            "/_sim/agent": self._ctl_agent,
            "/_sim/subaccount": self._ctl_subaccount,
        }
        for path, fn in controls.items():
            self.app.router.add_post(path, self._control(fn))
        self.app.router.add_get("/_sim/state", self._control(lambda b: self._state()))

    # ------------------------------------------------------------------ venue API

    async def _read(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WireError(f"expected JSON: {exc}") from None

    async def _info(self, request: web.Request) -> web.Response:
        try:
            return _json(self.info.answer(await self._read(request)))
        except WireError as exc:
            return web.Response(text=exc.text, status=422)

    async def _exchange(self, request: web.Request) -> web.Response:
        try:
            answer = self.actions.handle(await self._read(request))
        except WireError as exc:
            return web.Response(text=exc.text, status=422)
        self.save()
        return _json(answer)

    def save(self) -> None:
        """Persist the engine and the venue's own state before the answer leaves."""
        if self.store is not None:
            self.store.save(self.engine)
        if self.venue_path is not None:
            write_durably(self.venue_path, json.dumps(self.venue.state.dump()))

    # ------------------------------------------------------------------ control API

    def _control(self, fn: ControlFn) -> Callable[[web.Request], Any]:
        async def route(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.can_read_body else {}
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                result = fn(body)
                self.save()
                return _json(result)
            except SimError as exc:
                return _json({"code": exc.code, "message": exc.message}, exc.status)
            except (KeyError, InvalidOperation, ValueError, TypeError, WireError) as exc:
                return _json(
                    {"code": "INVALID_CLIENT_REQUEST", "message": f"Bad control request: {exc}"},
                    400,
                )

        return route

    def _symbol(self, name: str) -> str:
        coin = self.venue.by_name.get(name)
        return coin.symbol if coin is not None else name

    def _ctl_price(self, b: dict[str, Any]) -> Any:
        self.engine.set_price(self._symbol(b["symbol"]), Decimal(str(b["price"])))
        return {"ok": True}

    def _ctl_funding(self, b: dict[str, Any]) -> Any:
        self.engine.set_funding(self._symbol(b["symbol"]), Decimal(str(b["rate"])))
        return {"ok": True}

    def _ctl_settle(self, b: dict[str, Any]) -> Any:
        self.venue.settle()
        return {"ok": True}

    def _ctl_reset(self, b: dict[str, Any]) -> Any:
        self.engine.reset()
        self.venue.state = VenueState()
        return {"ok": True}

    def _ctl_deposit(self, b: dict[str, Any]) -> Any:
        amount = Decimal(str(b["amount"]))
        if not amount.is_finite() or amount <= 0:
            raise ValueError("amount must be positive")
        self.venue.deposit(address(b["user"]), amount)
        return {"ok": True}

    def _ctl_agent(self, b: dict[str, Any]) -> Any:
        user = address(b["user"])
        if not self.venue.known(user):
            raise ValueError(f"{user} has not deposited")
        self.venue.approve_agent(user, address(b["agent"], "agent"), str(b.get("name", "")))
        return {"ok": True}

    def _ctl_subaccount(self, b: dict[str, Any]) -> Any:
        master, sub = address(b["master"], "master"), address(b["sub"], "sub")
        self.venue.state.subaccounts[sub] = master
        return {"ok": True}

    def _state(self) -> Any:
        state = self.engine.state()
        state["agents"] = dict(self.venue.state.agents)
        state["subaccounts"] = dict(self.venue.state.subaccounts)
        return state

    # ------------------------------------------------------------------ background

    def start_tasks(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                # Funding first, through the venue, so each payment keeps its position size.
                self.venue.maybe_settle()
                if self.random_walk:
                    self.engine.step()
                else:
                    self.engine.roll_candles()
                self.save()
            except Exception:
                log.exception("hyperliquid simulator background step failed")

    async def stop_tasks(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.save()
        if self.store is not None:
            self.store.close()


class HyperliquidSimulator:
    """The Hyperliquid face as an async context manager: ``.rest_url``, ``.engine``, ``.venue``.

    Wallets start unknown; fund one with :meth:`deposit` (or ``POST /_sim/deposit``) and
    approve API wallets with :meth:`approve_agent` (or the ``approveAgent`` action).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        funding_interval: int = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float = 0.5,
        random_walk: bool = True,
        state_path: Path | None = None,
        markets: list[MarketSpec] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.clock = clock or SystemClock()
        self.engine = Engine(
            seed=seed,
            funding_interval=funding_interval,
            clock=self.clock,
            markets=markets or hyperliquid_markets(),
        )
        self.server = HyperliquidServer(
            self.engine,
            tick_interval=tick_interval,
            random_walk=random_walk,
            state_path=state_path,
        )
        self.venue = self.server.venue
        self._runner: web.AppRunner | None = None

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def deposit(self, user: str, amount: Decimal | int | str) -> None:
        self.venue.deposit(address(user), Decimal(str(amount)))

    def approve_agent(self, user: str, agent: str, name: str = "") -> None:
        self.venue.approve_agent(address(user), address(agent, "agent"), name)

    async def start(self) -> None:
        runner = web.AppRunner(self.server.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        server = site._server
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

    async def __aenter__(self) -> HyperliquidSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
