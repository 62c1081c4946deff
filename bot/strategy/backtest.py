"""The backtest engine: replay funding-rate history and hourly klines through :func:`decide`.

The same ``decide`` that trades live runs here, once per funding interval, on a snapshot rebuilt
from history. Without historic order books the book is synthetic: one level each side at
``half_spread_bps`` from the close, deep enough for ``depth_usdc``. The signal is the last
*settled* rate (what the live bot sees as the running estimate is close to it), so nothing from
the future leaks into a decision. Funding is paid on positions held across an interval end.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot.strategy.decide import decide
from bot.strategy.model import (
    HOUR_MS,
    ONE,
    ZERO,
    Action,
    Fees,
    MarketSnapshot,
    PerpSnapshot,
    Portfolio,
    StrategyConfig,
    StrategyPosition,
)

BPS = Decimal("0.0001")
DAY_MS = 24 * HOUR_MS
YEAR_MS = 365 * DAY_MS


@dataclass(frozen=True, slots=True)
class Candle:
    """One hourly candle: start (ms), close and quote volume."""

    start_ms: int
    close: Decimal
    quote_volume: Decimal


@dataclass(frozen=True, slots=True)
class SymbolHistory:
    """Everything the backtest needs about one perp."""

    symbol: str
    base: str
    funding: tuple[tuple[int, Decimal], ...]  # (interval end ms, rate), oldest first
    candles: tuple[Candle, ...]  # hourly, oldest first
    step_size: Decimal = Decimal("0.0001")
    min_quantity: Decimal = Decimal("0.0001")
    spot_symbol: str | None = None
    funding_interval_hours: Decimal = ONE


@dataclass(frozen=True, slots=True)
class BacktestTrade:
    """One executed action (an open or a close) with what it cost."""

    at_ms: int
    symbol: str
    kind: str  # "open" | "close"
    strategy: str
    quantity: Decimal  # perp quantity, signed (negative = short)
    price: Decimal
    fee: Decimal
    realized: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """The summary of a run plus the equity curve (``(ms, equity)``)."""

    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    capital: Decimal
    trades: tuple[BacktestTrade, ...]
    funding: Decimal
    fees: Decimal
    realized: Decimal  # price PnL of closed positions (after slippage, before fees)
    unrealized: Decimal  # price PnL of positions still open at the end
    equity: tuple[tuple[int, Decimal], ...]
    per_symbol_funding: tuple[tuple[str, Decimal], ...] = ()

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized + self.funding - self.fees

    @property
    def round_trips(self) -> int:
        return sum(1 for t in self.trades if t.kind == "close")

    @property
    def max_drawdown(self) -> Decimal:
        """Largest peak-to-trough fall of equity, as a fraction of the peak."""
        peak = ZERO
        worst = ZERO
        for _, eq in self.equity:
            peak = max(peak, eq)
            if peak > 0:
                worst = max(worst, (peak - eq) / peak)
        return worst

    @property
    def annualised_return(self) -> Decimal:
        """Net return on capital scaled linearly to a year."""
        span = self.end_ms - self.start_ms
        if span <= 0 or self.capital <= 0:
            return ZERO
        return self.net / self.capital * Decimal(YEAR_MS) / Decimal(span)


@dataclass(slots=True)
class _Book:
    positions: dict[str, StrategyPosition] = field(default_factory=dict)
    last_exit: dict[str, int] = field(default_factory=dict)


def run_backtest(
    histories: Sequence[SymbolHistory],
    config: StrategyConfig,
    *,
    fees: Fees | None = None,
    capital: Decimal | None = None,
    half_spread_bps: Decimal = Decimal(2),
    depth_usdc: Decimal = Decimal(5_000_000),
) -> BacktestResult:
    """Run ``config`` over the histories; deterministic for the same input."""
    fees = fees or Fees()
    capital = capital if capital is not None else config.max_notional_total
    half = half_spread_bps * BPS
    closes: dict[str, tuple[list[int], list[Candle]]] = {}
    rates: dict[str, dict[int, Decimal]] = {}
    times: set[int] = set()
    for h in histories:
        closes[h.symbol] = ([c.start_ms for c in h.candles], list(h.candles))
        rates[h.symbol] = dict(h.funding)
        times.update(t for t, _ in h.funding)
    timeline = sorted(times)
    book = _Book()
    trades: list[BacktestTrade] = []
    equity: list[tuple[int, Decimal]] = []
    funding_total = ZERO
    fees_total = ZERO
    realized = ZERO
    per_funding: dict[str, Decimal] = {h.symbol: ZERO for h in histories}
    last_rate: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    vol24: dict[str, Decimal] = {}
    for t in timeline:
        for h in histories:
            starts, candles = closes[h.symbol]
            i = bisect.bisect_right(starts, t - HOUR_MS) - 1  # last candle closed by t
            if i >= 0:
                marks[h.symbol] = candles[i].close
                lo = max(0, i - 23)
                vol24[h.symbol] = sum((c.quote_volume for c in candles[lo : i + 1]), ZERO)
        # Funding for the interval ending at t, on what was held through it.
        for sym, pos in book.positions.items():
            rate = rates[sym].get(t)
            mark = marks.get(sym)
            if rate is None or mark is None:
                continue
            paid = -rate * pos.perp_quantity * mark
            funding_total += paid
            per_funding[sym] += paid
        for h in histories:
            r = rates[h.symbol].get(t)
            if r is not None:
                last_rate[h.symbol] = r
        perps: list[PerpSnapshot] = []
        for h in histories:
            mark = marks.get(h.symbol)
            rate = last_rate.get(h.symbol)
            if mark is None or rate is None:
                continue
            bid = mark * (ONE - half)
            ask = mark * (ONE + half)
            depth = depth_usdc / mark
            lvl_b = ((bid, depth),)
            lvl_a = ((ask, depth),)
            perps.append(
                PerpSnapshot(
                    symbol=h.symbol,
                    base=h.base,
                    mark=mark,
                    funding_rate=rate,
                    funding_interval_hours=h.funding_interval_hours,
                    volume_24h=vol24.get(h.symbol, ZERO),
                    step_size=h.step_size,
                    min_quantity=h.min_quantity,
                    bids=lvl_b,
                    asks=lvl_a,
                    spot_symbol=h.spot_symbol,
                    spot_step_size=h.step_size if h.spot_symbol else None,
                    spot_min_quantity=h.min_quantity if h.spot_symbol else None,
                    spot_bids=lvl_b if h.spot_symbol else (),
                    spot_asks=lvl_a if h.spot_symbol else (),
                    spot_price=mark if h.spot_symbol else None,
                )
            )
        snapshot = MarketSnapshot(perps=tuple(perps), fees=fees, taken_at_ms=t)
        portfolio = Portfolio(tuple(book.positions.values()), book.last_exit)
        for action in decide(snapshot, portfolio, config, t):
            trade = _apply(action, book, fees, t)
            trades.append(trade)
            fees_total += trade.fee
            realized += trade.realized
        unreal = sum((p.unhedged_pnl(marks[s], marks[s]) for s, p in book.positions.items()), ZERO)
        equity.append((t, capital + realized + funding_total - fees_total + unreal))
    unrealized = sum((p.unhedged_pnl(marks[s], marks[s]) for s, p in book.positions.items()), ZERO)
    return BacktestResult(
        symbols=tuple(h.symbol for h in histories),
        start_ms=timeline[0] if timeline else 0,
        end_ms=timeline[-1] if timeline else 0,
        capital=capital,
        trades=tuple(trades),
        funding=funding_total,
        fees=fees_total,
        realized=realized,
        unrealized=unrealized,
        equity=tuple(equity),
        per_symbol_funding=tuple(per_funding.items()),
    )


def _apply(action: Action, book: _Book, fees: Fees, t: int) -> BacktestTrade:
    perp_leg = action.legs[0]
    spot_leg = action.legs[1] if len(action.legs) > 1 else None
    fee = perp_leg.quantity * perp_leg.expected_price * fees.perp_taker
    if spot_leg is not None:
        fee += spot_leg.quantity * spot_leg.expected_price * fees.spot_taker
    signed = perp_leg.quantity if perp_leg.is_buy else -perp_leg.quantity
    realized = ZERO
    if action.kind == "open":
        book.positions[action.symbol] = StrategyPosition(
            symbol=action.symbol,
            kind=action.strategy,
            perp_quantity=signed,
            perp_entry=perp_leg.expected_price,
            opened_at_ms=t,
            entry_rate=action.funding_rate,
            spot_symbol=spot_leg.symbol if spot_leg else None,
            spot_quantity=spot_leg.quantity if spot_leg else ZERO,
            spot_entry=spot_leg.expected_price if spot_leg else ZERO,
        )
    else:
        pos = book.positions.pop(action.symbol)
        spot_px = spot_leg.expected_price if spot_leg else None
        realized = pos.unhedged_pnl(perp_leg.expected_price, spot_px)
        book.last_exit[action.symbol] = t
    return BacktestTrade(
        at_ms=t,
        symbol=action.symbol,
        kind=action.kind,
        strategy=action.strategy,
        quantity=signed,
        price=perp_leg.expected_price,
        fee=fee,
        realized=realized,
        reason=action.reason,
    )
