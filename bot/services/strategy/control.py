"""Strategy control: build snapshots, run a decision cycle, propose or execute, keep the books.

No Telegram types here: the job and the handlers call these methods and render the results.
``off`` does nothing; ``approve`` turns each intended action into a single-use proposal (a random
token bound to the user, with an expiry) that only an explicit tap executes; ``auto`` executes
at once and reports.

:class:`StrategyService` is the small facade the rest of the bot holds; the work is done by one
part per job, sharing a :class:`~bot.services.strategy.core.StrategyCore`: the decision cycle
(:mod:`~bot.services.strategy.cycle`), proposals and approvals
(:mod:`~bot.services.strategy.approvals`), execution, booking and stops
(:mod:`~bot.services.strategy.books`) and the read-only views
(:mod:`~bot.services.strategy.status`).
"""

from __future__ import annotations

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.services import access
from bot.services.access import Actor
from bot.services.account.journal import JournalService
from bot.services.orders.confirm import Outcome, TradingService
from bot.services.orders.sender import OrderSender
from bot.services.strategy.approvals import Approvals
from bot.services.strategy.books import Books
from bot.services.strategy.core import StrategyCore
from bot.services.strategy.cross import CrossDesk
from bot.services.strategy.cycle import Cycle
from bot.services.strategy.status import StatusViews
from bot.services.strategy.values import (
    MAX_BACKTEST_DAYS,
    ORIGIN,
    ApprovalResult,
    CrossBacktest,
    CycleResult,
    PositionView,
    Proposal,
    StrategyStatus,
    leg_fill,
)
from bot.storage.strategy import MODES, ActionRecord, StrategyStore
from bot.strategy.backtest import BacktestResult
from bot.strategy.executor import ExecutionReport, Executor
from bot.strategy.model import Action, ConfigError, Fees, MarketSnapshot, Portfolio, StrategyConfig

__all__ = [
    "MAX_BACKTEST_DAYS",
    "ORIGIN",
    "ApprovalResult",
    "CrossBacktest",
    "CycleResult",
    "PositionView",
    "Proposal",
    "StrategyService",
    "StrategyStatus",
    "leg_fill",
]


class StrategyService:
    """The strategy's rules and state, shared by the job, the handlers and the tests."""

    def __init__(
        self,
        store: StrategyStore,
        market_api: BackpackAPI,
        account_api: BackpackAPI,
        journal: JournalService,
        clock: Clock,
        *,
        trading_mode: str,
        orders: OrderSender,
        trading: TradingService,
        confirm_ttl_seconds: int = 60,
        cross: CrossDesk | None = None,
    ) -> None:
        """``cross`` reads the hedge venue for the ``cross`` kind (``None``: no hedge venue
        that orders can go to)."""
        self.core = StrategyCore(
            store,
            market_api,
            account_api,
            journal,
            clock,
            trading_mode=trading_mode,
            orders=orders,
            trading=trading,
            confirm_ttl_seconds=confirm_ttl_seconds,
            cross=cross,
        )
        self.books = Books(self.core)
        self.approvals = Approvals(self.core, self.books)
        self.cycle = Cycle(self.core, self.books, self.approvals)
        self.views = StatusViews(self.core)

    @property
    def store(self) -> StrategyStore:
        return self.core.store

    @property
    def market_api(self) -> BackpackAPI:
        return self.core.market_api

    @property
    def account_api(self) -> BackpackAPI:
        return self.core.account_api

    @property
    def journal(self) -> JournalService:
        return self.core.journal

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def trading_mode(self) -> str:
        return self.core.trading_mode

    @property
    def orders(self) -> OrderSender:
        return self.core.orders

    @property
    def trading(self) -> TradingService:
        return self.core.trading

    @property
    def cross(self) -> CrossDesk | None:
        return self.core.cross

    @property
    def last_cycle_ms(self) -> int | None:
        """When the last cycle began (``/health``); ``None`` until the first one."""
        return self.core.last_cycle_ms

    def now_ms(self) -> int:
        return self.core.now_ms()

    # ------------------------------------------------------------------ settings

    async def set_mode(self, mode: str, *, actor: Actor) -> str:
        """Switch ``off | approve | auto``; the actor and their chat receive proposals and
        reports. Refused (:class:`~bot.services.access.Refused`) unless the actor may change
        the strategy here."""
        actor.require(access.Action.STRATEGY)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        await self.store.save_settings(
            now_ms=self.now_ms(), mode=mode, user_id=actor.user_id, chat_id=actor.chat_id
        )
        return mode

    async def set_paused(self, paused: bool, *, actor: Actor) -> bool:
        """``/pause`` (True) or ``/resume``: new entries stop or start again; exits, stops and
        the delta check always go on. Refused unless the actor may change the strategy."""
        actor.require(access.Action.STRATEGY)
        await self.store.save_settings(now_ms=self.now_ms(), paused=paused)
        return paused

    async def set_config(self, key: str, value: str, *, actor: Actor) -> StrategyConfig:
        """Validate and persist one setting (raises ``ConfigError`` with the reason, or
        :class:`~bot.services.access.Refused` when the actor may not change the strategy)."""
        actor.require(access.Action.STRATEGY)
        current = (await self.store.settings()).config
        updated = current.with_value(key, value)
        if updated.kind == "cross" and self.cross is None:
            raise ConfigError(
                "kind cross trades on two venues: set HEDGE_EXCHANGE (and HEDGE_CREDENTIALS "
                "for live trading; in paper mode EXCHANGE=sim), then restart"
            )
        await self.store.save_settings(now_ms=self.now_ms(), config=updated)
        return updated

    # ------------------------------------------------------------------ market data

    async def fees(self) -> Fees:
        """Taker fees from the account (basis points on the wire); defaults when unknown."""
        return await self.core.fees()

    async def snapshot(self, config: StrategyConfig, portfolio: Portfolio) -> MarketSnapshot:
        """Every allowed perp; books only where a trade is possible (|rate| > entry, or held)."""
        return await self.core.snapshot(config, portfolio)

    # ------------------------------------------------------------------ the cycle

    async def run_cycle(self) -> CycleResult:
        """One decision: off → nothing; approve → proposals; auto → executions."""
        return await self.cycle.run()

    async def ensure_stops(
        self, config: StrategyConfig, user_id: int, chat_id: int
    ) -> tuple[str, ...]:
        """Every unhedged strategy position's stop-loss on the exchange (see
        :meth:`Books.ensure_stops <bot.services.strategy.books.Books.ensure_stops>`)."""
        return await self.books.ensure_stops(config, user_id, chat_id)

    # ------------------------------------------------------------------ proposals and taps

    async def propose_cross(
        self, text: str, actor: Actor, *, venue_id: str | None = None
    ) -> Proposal:
        """The /arb "Open" button: a cross entry for one asset as a strategy proposal (the
        usual preview and single-use ✅); the position is then the strategy's to manage."""
        return await self.approvals.propose_cross(text, actor, venue_id=venue_id)

    async def approve(self, token: str, actor: Actor) -> ApprovalResult:
        """The ✅ tap: the trading service's single-use confirm (which checks ``actor``),
        then unwind and book."""
        return await self.approvals.approve(token, actor)

    async def reject(self, token: str, actor: Actor) -> ApprovalResult:
        """The ❌ tap: cancel the confirmation; nothing is sent."""
        return await self.approvals.reject(token, actor)

    async def after(self, outcome: Outcome) -> ApprovalResult:
        """Book what a confirmation of a strategy proposal did (a tap, or recovery after a
        restart settling one); unwind a hedge gap. Other confirmations pass through."""
        return await self.approvals.after(outcome)

    # ------------------------------------------------------------------ books

    def executor(self, aid: str, user_id: int, chat_id: int) -> Executor:
        """An executor whose legs go through the journaled order path under the action's id."""
        return self.core.executor(aid, user_id, chat_id)

    async def settle(self, action: Action, report: ExecutionReport, mode: str) -> ExecutionReport:
        """Book what the legs did (see :meth:`bot.services.strategy.books.Books.settle`)."""
        return await self.books.settle(action, report, mode)

    async def reconcile(self) -> list[str]:
        """Align the positions the strategy owns with the exchange's real ones (at start)."""
        return await self.books.reconcile()

    # ------------------------------------------------------------------ views

    async def status(self, actor: Actor, limit: int = 8) -> StrategyStatus:
        """The strategy's mode, positions and candidates (account data for ``actor``)."""
        return await self.views.status(actor, limit)

    async def trades(self, actor: Actor, limit: int = 10) -> list[ActionRecord]:
        """The strategy's last trades with their reasons (account data for ``actor``)."""
        return await self.views.trades(actor, limit)

    async def backtest(
        self, symbol: str, days: int
    ) -> tuple[BacktestResult | CrossBacktest, bytes]:
        """Run the current config over ``days`` of history; returns the PNG too."""
        return await self.views.backtest(symbol, days)

    async def price_chart(self, symbol: str, hours: int) -> tuple[str, bytes]:
        return await self.views.price_chart(symbol, hours)

    async def funding_chart(self, top: int = 15) -> bytes:
        return await self.views.funding_chart(top)
