"""The Hyperliquid face's HTTP server: ``POST /info``, ``POST /exchange`` and the control API.

``async with HyperliquidSimulator(seed=1) as sim:`` serves it on a free port; point ccxt's
``hyperliquid`` class at ``sim.rest_url`` (``exchange.urls["api"] = {"public": url,
"private": url}``). ``python -m bot.sim --venue hyperliquid`` runs it as a process.

The control API has the Backpack face's paths and JSON: ``/_sim/price``, ``/_sim/funding``
(``symbol`` is the coin, ``"BTC"``, or the engine's ``"BTC_USDC_PERP"``), ``/_sim/settle``,
``/_sim/state``, ``/_sim/reset``, ``/_sim/fault`` (``http_error``, ``delay``, ``rate_limit``,
``lost_response``: an ``/exchange`` action runs and its answer is lost; an optional
``"action": "order"`` aims a fault at one action type). Only this venue needs the rest:
``/_sim/deposit {"user","amount"}`` funds a wallet, ``/_sim/agent {"user","agent"[,"name"]}``
approves an API wallet, ``/_sim/subaccount {"master","sub"}`` makes ``sub`` a sub-account (a
``vaultAddress``) of ``master``. Every control route goes through
:meth:`HyperliquidServer._control`, which first asks the Backpack face's
:class:`~bot.sim.control.ControlGuard` (the run's token, JSON, a loopback ``Host``); without
one (paper mode) there are no control routes at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.sim.control import ControlGuard
from bot.sim.control import Fault as BackpackFault
from bot.sim.engine import Engine
from bot.sim.hosting import HostedSimulator, control_token_for
from bot.sim.hyperliquid.exchange import ExchangeActions
from bot.sim.hyperliquid.info import Info
from bot.sim.hyperliquid.state import Venue, VenueState
from bot.sim.hyperliquid.wire import FEES_BPS, WireError, address, hyperliquid_markets
from bot.sim.markets import MarketSpec
from bot.sim.model import SimError, bad_request
from bot.sim.store import StateStore, write_durably

log = logging.getLogger("bot.sim.hyperliquid")
JSON = "application/json"
FAULT_KINDS = ("http_error", "delay", "rate_limit", "lost_response")
ControlFn = Callable[[dict[str, Any]], Any]
Guard = Callable[[web.Request], web.Response | None]
"""Why a control request is refused (a response), or ``None`` to let it through."""


@dataclass
class Fault(BackpackFault):
    """One injected fault (``/_sim/fault``), the Backpack face's kinds less ``drop_ws``."""

    action: str | None = None  # only ``/exchange`` requests of this action type


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=status, content_type=JSON
    )


def _action_type(body: Any) -> str | None:
    action = body.get("action") if isinstance(body, dict) else None
    kind = action.get("type") if isinstance(action, dict) else None
    return kind if isinstance(kind, str) else None


class HyperliquidServer:
    """Routes and the periodic market task over one :class:`Engine`."""

    def __init__(
        self,
        engine: Engine,
        *,
        tick_interval: float = 0.5,
        random_walk: bool = True,
        state_path: Path | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.engine = engine
        self.guard = guard
        self.venue = Venue(engine)
        self.info = Info(self.venue)
        self.actions = ExchangeActions(self.venue)
        self.tick_interval = tick_interval
        self.random_walk = random_walk
        self.store: StateStore | None = None
        self.venue_path: Path | None = None
        self._venue_saved = ""
        if state_path is not None:
            self.store = StateStore(state_path)
            self.store.load(engine)
            self.venue_path = state_path.with_name(state_path.name + ".hyperliquid.json")
            if self.venue_path.exists():
                self.venue.state = VenueState.load(json.loads(self.venue_path.read_text()))
        self._task: asyncio.Task[None] | None = None
        self.faults: list[Fault] = []
        self.app = web.Application()
        self.app.router.add_post("/info", self._info)
        self.app.router.add_post("/exchange", self._exchange)
        controls: dict[str, ControlFn] = {
            "/_sim/price": self._ctl_price,
            "/_sim/funding": self._ctl_funding,
            "/_sim/settle": self._ctl_settle,
            "/_sim/reset": self._ctl_reset,
            "/_sim/fault": self._ctl_fault,
            "/_sim/deposit": self._ctl_deposit,
            "/_sim/agent": self._ctl_agent,
            "/_sim/subaccount": self._ctl_subaccount,
        }
        if guard is not None:  # no guard, no control door (paper mode)
            for path, fn in controls.items():
                self.app.router.add_post(path, self._control(fn))
            self.app.router.add_get("/_sim/state", self._control(lambda b: self._state()))

    # ------------------------------------------------------------------ venue API

    async def _read(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WireError(f"expected JSON: {exc}") from None

    async def _info(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.info.answer, writes=False)

    async def _exchange(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.actions.handle, writes=True)

    async def _serve(
        self, request: web.Request, answer: Callable[[Any], Any], *, writes: bool
    ) -> web.StreamResponse:
        try:
            body = await self._read(request)
        except WireError as exc:
            return web.Response(text=exc.text, status=422)
        fault = self._take_fault(request, body, writes=writes)
        if fault is not None:
            if fault.kind == "delay":
                await asyncio.sleep(fault.ms / 1000)
            elif fault.kind == "http_error":
                return web.Response(text="Internal Server Error", status=fault.status)
            elif fault.kind == "rate_limit":
                return web.Response(text="Too many requests", status=429)
        try:
            result = answer(body)
        except WireError as exc:
            return web.Response(text=exc.text, status=422)
        if writes:
            self.save()  # what the answer says is on disk before the answer leaves
        if fault is not None and fault.kind == "lost_response" and request.transport is not None:
            # The work is done; the answer is lost on the wire.
            request.transport.close()
            raise asyncio.CancelledError
        return _json(result)

    def _take_fault(self, request: web.Request, body: Any, *, writes: bool) -> Fault | None:
        kind = _action_type(body) if writes else None
        for f in self.faults:
            if f.path is not None and f.path != request.path:
                continue
            if f.action is not None and f.action != kind:
                continue
            if f.kind == "lost_response" and f.path is None and not writes:
                continue  # lost answers are about actions: reads pass unless named
            if f.skip > 0:
                f.skip -= 1
                continue
            f.count -= 1
            if f.count <= 0:
                self.faults.remove(f)
            return f
        return None

    def save(self) -> None:
        """Persist the engine and the venue's own state before the answer leaves."""
        if self.store is not None:
            self.store.save(self.engine)
        if self.venue_path is not None:
            text = json.dumps(self.venue.state.dump())
            if text != self._venue_saved:
                write_durably(self.venue_path, text)
                self._venue_saved = text

    # ------------------------------------------------------------------ control API

    def _control(self, fn: ControlFn) -> Callable[[web.Request], Any]:
        async def route(request: web.Request) -> web.Response:
            refused = self.guard(request) if self.guard is not None else None
            if refused is not None:  # (routes exist only with a guard)
                return refused
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

    def _ctl_fault(self, b: dict[str, Any]) -> Any:
        kind = b["kind"]
        if kind not in FAULT_KINDS:
            raise bad_request(f"Unknown fault kind {kind!r}")
        action = b.get("action")
        self.faults.append(
            Fault(
                kind=kind,
                count=int(b.get("count", 1)),
                status=int(b.get("status", 500)),
                ms=int(b.get("ms", 0)),
                path=b.get("path"),
                skip=int(b.get("skip", 0)),
                action=str(action) if action is not None else None,
            )
        )
        return {"ok": True}

    def _ctl_reset(self, b: dict[str, Any]) -> Any:
        self.engine.reset()
        self.venue.state = VenueState()
        self.faults.clear()
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
        if not self.venue.known(master):
            raise ValueError(f"{master} has not deposited")
        if not self.venue.known(sub):
            self.venue.deposit(sub, Decimal(0))  # a new sub-account starts empty
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


class HyperliquidSimulator(HostedSimulator[HyperliquidServer]):
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
        control: bool = True,
        control_token: str | None = None,
    ) -> None:
        super().__init__(host, port)
        # As the Backpack face: the control API needs this run's token (None: no control API).
        self.control_token = control_token_for(control, control_token)
        self.clock = clock or SystemClock()
        self.engine = Engine(
            seed=seed,
            funding_interval=funding_interval,
            clock=self.clock,
            markets=markets or hyperliquid_markets(),
        )
        self.engine.ex.fees = dict(FEES_BPS)
        self.server = HyperliquidServer(
            self.engine,
            tick_interval=tick_interval,
            random_walk=random_walk,
            state_path=state_path,
            guard=ControlGuard(self.control_token) if self.control_token is not None else None,
        )
        self.venue = self.server.venue

    def deposit(self, user: str, amount: Decimal | int | str) -> None:
        self.venue.deposit(address(user), Decimal(str(amount)))

    def approve_agent(self, user: str, agent: str, name: str = "") -> None:
        self.venue.approve_agent(address(user), address(agent, "agent"), name)
