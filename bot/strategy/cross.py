"""The ``cross`` rules and their backtest: a perp on each of two venues, short where funding pays
more, long where it pays less, equal base quantity (pure; no I/O).

Rules (:func:`decide_cross`), on the spread APR = APR(A) − APR(B), each venue's rate normalised
from its own interval:

* open when ``|spread| ≥ entry_apr`` and the asset is not cooling down after an exit;
* close when the spread in the held direction falls below ``exit_apr`` (hysteresis:
  ``exit_apr < entry_apr``, so a spread hovering at the threshold does not flap), when it flips
  sign, or when ``max_hold_hours`` have passed.

The backtest replays both venues' settled funding and hourly closes: funding is paid on each
venue at its own payment times, every trade pays each venue's taker fee plus half its spread,
and the legs' price PnL (the basis between the two venues) is counted, not assumed away.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from bot.venues.spread import apr

HOUR_MS = 3_600_000
ZERO = Decimal(0)

Short = Literal["a", "b"]


@dataclass(frozen=True, slots=True)
class CrossConfig:
    entry_apr: Decimal = Decimal("0.20")  # |spread APR| to open
    exit_apr: Decimal = Decimal("0.05")  # close when the held spread drops below this
    max_hold_hours: Decimal = Decimal(72)
    notional: Decimal = Decimal(1000)  # USDC per leg
    cooldown_hours: Decimal = Decimal(4)  # after an exit, before the same asset opens again

    def __post_init__(self) -> None:
        if not ZERO <= self.exit_apr < self.entry_apr:
            raise ValueError("exit_apr must be at least 0 and below entry_apr (hysteresis)")


@dataclass(frozen=True, slots=True)
class Holding:
    """An open pair: which venue is short, the common quantity, entry prices, open time."""

    short: Short
    quantity: Decimal
    entry_a: Decimal
    entry_b: Decimal
    opened_ms: int


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Literal["open", "close"]
    short: Short
    reason: str


def spread_apr(rate_a: Decimal, hours_a: Decimal, rate_b: Decimal, hours_b: Decimal) -> Decimal:
    """APR(A) − APR(B): positive when A pays more (short A, long B)."""
    return apr(rate_a, hours_a) - apr(rate_b, hours_b)


def decide_cross(
    spread: Decimal,
    holding: Holding | None,
    now_ms: int,
    last_exit_ms: int | None,
    config: CrossConfig,
) -> Decision | None:
    """What to do now with one asset's pair, given the current spread APR."""
    if holding is None:
        cooling = (
            last_exit_ms is not None and now_ms - last_exit_ms < config.cooldown_hours * HOUR_MS
        )
        if abs(spread) >= config.entry_apr and not cooling:
            short: Short = "a" if spread > 0 else "b"
            return Decision("open", short, "the spread reached the entry threshold")
        return None
    held = spread if holding.short == "a" else -spread
    if held < 0:
        return Decision("close", holding.short, "the spread flipped")
    if held < config.exit_apr:
        return Decision("close", holding.short, "the spread fell below the exit threshold")
    if now_ms - holding.opened_ms >= config.max_hold_hours * HOUR_MS:
        return Decision("close", holding.short, "maximum holding time")
    return None


# ---------------------------------------------------------------------------- backtest


@dataclass(frozen=True, slots=True)
class VenueHistory:
    """One venue's side of the backtest."""

    name: str
    interval_hours: Decimal  # read from the venue
    funding: tuple[tuple[int, Decimal], ...]  # (payment time ms, rate per interval), oldest first
    closes: tuple[tuple[int, Decimal], ...]  # (hour close time ms, price), oldest first
    step: Decimal
    min_quantity: Decimal
    taker_fee: Decimal
    half_spread: Decimal = Decimal("0.0002")  # synthetic book: half the bid/ask spread

    def rate_at(self, t_ms: int) -> Decimal | None:
        """The last settled rate at ``t_ms`` (no look-ahead)."""
        i = bisect.bisect_right(self.funding, (t_ms, Decimal("Infinity")))
        return self.funding[i - 1][1] if i else None


@dataclass(frozen=True, slots=True)
class CrossTrade:
    opened_ms: int
    closed_ms: int | None
    short: str  # the venue's name
    quantity: Decimal
    funding: Decimal
    costs: Decimal  # fees + slippage, in and out
    basis: Decimal  # the two legs' price PnL
    reason: str = ""

    @property
    def net(self) -> Decimal:
        return self.funding - self.costs + self.basis


@dataclass(frozen=True, slots=True)
class CrossResult:
    trades: tuple[CrossTrade, ...]
    equity: tuple[tuple[int, Decimal], ...]
    funding: Decimal
    costs: Decimal
    basis: Decimal
    hours: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def net(self) -> Decimal:
        return self.funding - self.costs + self.basis


def _trade_cost(
    qty: Decimal, pa: Decimal, pb: Decimal, a: VenueHistory, b: VenueHistory
) -> Decimal:
    """Taker fee plus half the spread on both legs of one trade."""
    return qty * (pa * (a.taker_fee + a.half_spread) + pb * (b.taker_fee + b.half_spread))


def run_cross_backtest(a: VenueHistory, b: VenueHistory, config: CrossConfig) -> CrossResult:
    """Replay hour by hour over the hours both venues have a close for."""
    prices_b = dict(b.closes)
    hours = [(t, pa, prices_b[t]) for t, pa in a.closes if t in prices_b]
    step = max(a.step, b.step)
    trades: list[CrossTrade] = []
    equity: list[tuple[int, Decimal]] = []
    realised = ZERO
    total_funding = total_costs = total_basis = ZERO
    holding: Holding | None = None
    acc_funding = acc_costs = ZERO
    last_exit: int | None = None
    prev_t: int | None = None
    notes: list[str] = []
    for t, pa, pb in hours:
        if holding is not None and prev_t is not None:
            sign_a = 1 if holding.short == "a" else -1  # a short receives a positive rate
            for venue, price, sign in ((a, pa, sign_a), (b, pb, -sign_a)):
                lo = bisect.bisect_right(venue.funding, (prev_t, Decimal("Infinity")))
                hi = bisect.bisect_right(venue.funding, (t, Decimal("Infinity")))
                for _, rate in venue.funding[lo:hi]:
                    acc_funding += sign * rate * holding.quantity * price
        ra, rb = a.rate_at(t), b.rate_at(t)
        if ra is not None and rb is not None:
            spread = spread_apr(ra, a.interval_hours, rb, b.interval_hours)
            d = decide_cross(spread, holding, t, last_exit, config)
            if d is not None and d.kind == "open" and holding is None:
                price = (pa + pb) / 2
                qty = (config.notional / price / step).to_integral_value(ROUND_DOWN) * step
                if qty >= max(a.min_quantity, b.min_quantity) and qty > 0:
                    holding = Holding(d.short, qty, pa, pb, t)
                    acc_funding = ZERO
                    acc_costs = _trade_cost(qty, pa, pb, a, b)
                elif not notes:
                    notes.append("the notional is below a venue's minimum quantity")
            elif d is not None and d.kind == "close" and holding is not None:
                acc_costs += _trade_cost(holding.quantity, pa, pb, a, b)
                basis = _basis(holding, pa, pb)
                trade = CrossTrade(
                    holding.opened_ms,
                    t,
                    a.name if holding.short == "a" else b.name,
                    holding.quantity,
                    acc_funding,
                    acc_costs,
                    basis,
                    d.reason,
                )
                trades.append(trade)
                realised += trade.net
                total_funding += acc_funding
                total_costs += acc_costs
                total_basis += basis
                holding, last_exit = None, t
        open_value = (
            acc_funding - acc_costs + _basis(holding, pa, pb) if holding is not None else ZERO
        )
        equity.append((t, realised + open_value))
        prev_t = t
    if holding is not None and hours:
        t, pa, pb = hours[-1]
        basis = _basis(holding, pa, pb)
        trades.append(
            CrossTrade(
                holding.opened_ms,
                None,
                a.name if holding.short == "a" else b.name,
                holding.quantity,
                acc_funding,
                acc_costs,
                basis,
                "still open (exit cost not yet paid)",
            )
        )
        total_funding += acc_funding
        total_costs += acc_costs
        total_basis += basis
    return CrossResult(
        tuple(trades),
        tuple(equity),
        total_funding,
        total_costs,
        total_basis,
        len(hours),
        tuple(notes),
    )


def _basis(h: Holding | None, pa: Decimal, pb: Decimal) -> Decimal:
    """Price PnL of both legs: the short gains when its venue's price falls."""
    if h is None:
        return ZERO
    if h.short == "a":
        return h.quantity * ((h.entry_a - pa) + (pb - h.entry_b))
    return h.quantity * ((pa - h.entry_a) + (h.entry_b - pb))


def merge_funding(rows: Sequence[tuple[int, Decimal]]) -> tuple[tuple[int, Decimal], ...]:
    """Sorted, one rate per payment time (a venue may list the same payment twice)."""
    return tuple(sorted(dict(rows).items()))
