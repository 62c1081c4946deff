"""The strategy service's values: what a cycle, a tap and ``/strategy`` return, and the
names that tie an action to its orders in the journal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.services.orders.preview import Outcome, Preview
from bot.services.orders.sender import SENT_OK, OrderOutcome
from bot.strategy.cross import CrossResult
from bot.strategy.executor import ExecutionReport, LegFill
from bot.strategy.model import (
    ZERO,
    Action,
    Candidate,
    Leg,
    Portfolio,
    StrategyConfig,
    StrategyPosition,
)

BOOK_DEPTH = 50
ORIGIN = "strategy:"
#: Journal leg numbers of an action's orders (token = the action's id).
STEP_LEG = {"0": 0, "1": 1, "unwind": 2}
MAX_BACKTEST_DAYS = 35


@dataclass(frozen=True, slots=True)
class Proposal:
    """An action waiting for the user's ✅ (``token`` is the callback data)."""

    token: str
    action: Action
    expires_at_ms: int
    chat_id: int
    preview: Preview | None = None


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did: proposals to send (approve) or executions to report (auto)."""

    mode: str
    proposals: tuple[Proposal, ...] = ()
    reports: tuple[ExecutionReport, ...] = ()
    chat_id: int | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # for the user (legs diverging, no margin for an entry)


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """A tap's result: the confirmation service's outcome, plus what the strategy made of it.

    ``report`` is set when orders were sent; ``proposal`` replaces the tapped one when the price
    moved (re-quote: a fresh token to tap).
    """

    outcome: Outcome
    action: Action | None = None
    report: ExecutionReport | None = None
    proposal: Proposal | None = None


@dataclass(frozen=True, slots=True)
class CrossBacktest:
    """A ``cross`` backtest and what it ran on (for the summary)."""

    result: CrossResult
    base: str
    venues: str
    days: int


@dataclass(frozen=True, slots=True)
class PositionView:
    position: StrategyPosition
    mark: Decimal | None
    funding_rate: Decimal | None
    unrealized: Decimal | None
    #: Where its stop-loss lives: the exchange's trigger price, or ``None`` (checked each cycle).
    exchange_stop: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    mode: str
    trading_mode: str
    config: StrategyConfig
    candidates: tuple[Candidate, ...]
    positions: tuple[PositionView, ...]
    paused: bool = False  # /pause: no new entries


def leg_fill(leg: Leg, o: OrderOutcome) -> LegFill:
    """A journaled order's outcome as the executor's fill."""
    ok = o.status in SENT_OK
    return LegFill(
        symbol=leg.symbol,
        side=leg.side,
        requested=leg.quantity,
        filled=o.executed_quantity if ok else ZERO,
        average_price=o.avg_price,
        order_id=o.order_id,
        reduce_only=leg.reduce_only,
        error=None if ok else (o.reason or str(o.status)),
    )


def split(portfolio: Portfolio) -> tuple[Portfolio, Portfolio]:
    """(cross positions, the others), each with every exit time (cooldowns)."""
    crossing = tuple(p for p in portfolio.positions if p.kind == "cross")
    others = tuple(p for p in portfolio.positions if p.kind != "cross")
    return (
        Portfolio(crossing, portfolio.last_exit_ms),
        Portfolio(others, portfolio.last_exit_ms),
    )
