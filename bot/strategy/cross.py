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

from bot.render import money
from bot.strategy.model import (
    BPS,
    Action,
    Candidate,
    Leg,
    Portfolio,
    Side,
    StrategyConfig,
    StrategyPosition,
)
from bot.venues.port import HEDGE
from bot.venues.spread import HOURS_PER_YEAR, Edge, apr, mid
from bot.venues.spread import Leg as SpreadLeg

#: The primary venue's name in :class:`bot.venues.spread.Leg` (``BackpackVenue.name``).
PRIMARY = "backpack"

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


# ---------------------------------------------------------------------------- live actions


def _edge_spread(e: Edge) -> Decimal:
    """The edge's spread APR as APR(Backpack) − APR(hedge): positive = short Backpack."""
    return e.spread_apr if e.short.venue == PRIMARY else -e.spread_apr


def cross_config(config: StrategyConfig) -> CrossConfig:
    """The strategy's settings read for ``cross``: entry/exit rates are the spread per hour."""
    return CrossConfig(
        entry_apr=config.entry_rate * HOURS_PER_YEAR,
        exit_apr=config.exit_rate * HOURS_PER_YEAR,
        max_hold_hours=config.max_hold_hours,
        notional=config.trade_notional,
        cooldown_hours=Decimal(config.cooldown_minutes) / 60,
    )


def open_action(e: Edge) -> Action:
    """Short the venue that pays more, long the other: Backpack's leg first."""
    return _open(e, "a" if _edge_spread(e) > 0 else "b")


def _open(e: Edge, short: Short) -> Action:
    ours, hedge = (e.short, e.long) if short == "a" else (e.long, e.short)
    ours_side: Side = "Ask" if short == "a" else "Bid"
    hedge_side: Side = "Bid" if short == "a" else "Ask"
    spread = _edge_spread(e) if short == "a" else -_edge_spread(e)
    return Action(
        kind="open",
        symbol=ours.market.symbol,
        strategy="cross",
        legs=(
            Leg(ours.market.symbol, ours_side, e.quantity, expected_price=mid_or_zero(ours)),
            Leg(
                hedge.market.symbol,
                hedge_side,
                e.quantity,
                expected_price=mid_or_zero(hedge),
                venue=hedge.venue_id or HEDGE,
            ),
        ),
        reason=(
            f"spread {money.rate(spread / HOURS_PER_YEAR, 'hour')} ({_pct(spread, 1)} APR): "
            f"short {e.short.venue}, long {e.long.venue}; net edge {money.usdc(e.net)} over "
            f"{money.number(e.horizon_hours)}h"
        ),
        funding_rate=spread / HOURS_PER_YEAR,
        notional=e.notional,
        expected_edge=e.net,
    )


def close_action(p: StrategyPosition, reason: str, spread_per_hour: Decimal = ZERO) -> Action:
    """Both legs of a cross position out, reduce-only."""
    legs = []
    if p.perp_quantity:
        side: Side = "Bid" if p.perp_quantity < 0 else "Ask"
        legs.append(Leg(p.symbol, side, abs(p.perp_quantity), reduce_only=True))
    if p.spot_quantity and p.spot_symbol:
        hside: Side = "Bid" if p.spot_quantity < 0 else "Ask"
        legs.append(
            Leg(
                p.spot_symbol,
                hside,
                abs(p.spot_quantity),
                reduce_only=True,
                venue=p.hedge_venue or HEDGE,
            )
        )
    return Action(
        kind="close",
        symbol=p.symbol,
        strategy="cross",
        legs=tuple(legs),
        reason=reason,
        funding_rate=spread_per_hour,
        notional=abs(p.perp_quantity) * p.perp_entry,
    )


def cross_actions(
    edges: Sequence[Edge],
    portfolio: Portfolio,
    config: StrategyConfig,
    now_ms: int,
) -> tuple[list[Action], list[Candidate]]:
    """Exits of held pairs and entries of new ones, plus every pair's evaluation.

    ``portfolio`` holds the cross positions only. Entries also need the net edge over the
    horizon to beat ``min_edge_bps`` of the notional, a place under ``max_positions`` and the
    asset on the allow-list; a failed or unwound entry counts as an exit, so the cooldown stops
    an open/unwind loop.
    """
    cfg = cross_config(config)
    actions: list[Action] = []
    candidates: list[Candidate] = []
    by_symbol = {e.short.market.symbol: e for e in edges} | {e.long.market.symbol: e for e in edges}
    held = {p.symbol for p in portfolio.positions}
    for p in portfolio.positions:
        e = by_symbol.get(p.symbol)
        if e is None:
            continue  # the pair could not be read this cycle: decide next time
        short: Short = "a" if p.perp_quantity < 0 else "b"
        holding = Holding(short, abs(p.perp_quantity), p.perp_entry, p.spot_entry, p.opened_at_ms)
        d = decide_cross(_edge_spread(e), holding, now_ms, None, cfg)
        if d is not None:
            actions.append(close_action(p, d.reason, _edge_spread(e) / HOURS_PER_YEAR))
    slots = config.max_positions - len(portfolio.positions)
    for e in edges:
        ours = e.short if e.short.venue == PRIMARY else e.long
        spread = _edge_spread(e)
        required = config.min_edge_bps * BPS * e.notional
        d = decide_cross(spread, None, now_ms, portfolio.last_exit_ms.get(ours.market.symbol), cfg)
        reason = ""
        if ours.market.symbol in held:
            reason = "held"
        elif e.problem is not None:
            reason = e.problem
        elif d is None:
            reason = (
                "cooling down after an exit"
                if abs(spread) >= cfg.entry_apr
                else f"spread {_pct(abs(spread), 1)} APR below entry {_pct(cfg.entry_apr, 1)}"
            )
        elif e.net < required:
            reason = f"net edge {money.usdc(e.net)} below min_edge_bps ({money.usdc(required)})"
        elif not _allowed(config, e):
            reason = "not in symbols"
        elif slots <= 0:
            reason = "max_positions reached"
        candidates.append(
            Candidate(
                symbol=ours.market.symbol,
                funding_rate=spread / HOURS_PER_YEAR,
                strategy="cross",
                quantity=e.quantity,
                notional=e.notional,
                expected_funding=e.funding_income,
                fees=e.fees,
                slippage=e.slippage,
                edge=e.net,
                eligible=not reason,
                reason=reason or "enter",
            )
        )
        if not reason and d is not None:
            actions.append(_open(e, d.short))
            slots -= 1
    candidates.sort(key=lambda c: abs(c.funding_rate), reverse=True)
    return actions, candidates


def _allowed(config: StrategyConfig, e: Edge) -> bool:
    if not config.symbols:
        return True
    wanted = {s.upper() for s in config.symbols}
    names = {e.base.upper(), e.short.market.symbol.upper(), e.long.market.symbol.upper()}
    return bool(wanted & names)


def mid_or_zero(leg: SpreadLeg) -> Decimal:
    return mid(leg.book) or ZERO


def _pct(fraction: Decimal, places: int) -> str:
    return money.percent(fraction, places)
