"""The decision: a pure function of (snapshot, portfolio, config, now) → intended actions.

Entries are fee- and slippage-aware: the funding expected over the holding horizon must beat the
round-trip taker fees plus the slippage of walking the current book for the intended size, by
``min_edge_bps``. Exits have hysteresis (``exit_rate`` < ``entry_rate``) so a rate hovering at
the threshold does not flap the position.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from bot.render import money
from bot.strategy.model import (
    BPS,
    HOUR_MS,
    ZERO,
    Action,
    Candidate,
    Fees,
    Kind,
    Leg,
    Level,
    MarketSnapshot,
    PerpSnapshot,
    Portfolio,
    Side,
    StrategyConfig,
    StrategyPosition,
)

TWO = Decimal(2)
HUNDRED = Decimal(100)


def fill_estimate(levels: tuple[Level, ...], quantity: Decimal) -> Decimal | None:
    """Average price of a market order of ``quantity`` walking ``levels``; ``None`` if too thin."""
    remaining = quantity
    cost = ZERO
    for price, size in levels:
        take = size if size < remaining else remaining
        cost += take * price
        remaining -= take
        if remaining <= 0:
            return cost / quantity
    return None


def _mid(bids: tuple[Level, ...], asks: tuple[Level, ...], fallback: Decimal) -> Decimal:
    if bids and asks:
        return (bids[0][0] + asks[0][0]) / TWO
    return fallback


def _slippage(
    bids: tuple[Level, ...], asks: tuple[Level, ...], side: Side, qty: Decimal, ref: Decimal
) -> tuple[Decimal, Decimal] | None:
    """``(average price, slippage cost in USDC vs mid)`` for one market order, or ``None``."""
    levels = asks if side == "Bid" else bids
    avg = fill_estimate(levels, qty)
    if avg is None:
        return None
    mid = _mid(bids, asks, ref)
    return avg, abs(avg - mid) * qty


def _step_down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def plan_entry(
    perp: PerpSnapshot, config: StrategyConfig, notional: Decimal, fees: Fees
) -> Candidate:
    """What opening ``perp`` with up to ``notional`` USDC would look like, and whether it pays."""
    rate = perp.funding_rate
    base = Candidate(
        symbol=perp.symbol,
        funding_rate=rate,
        strategy=None,
        quantity=ZERO,
        notional=ZERO,
        expected_funding=ZERO,
        fees=ZERO,
        slippage=ZERO,
        edge=ZERO,
        eligible=False,
        reason="",
    )
    if abs(rate) <= config.entry_rate:
        return replace(
            base,
            # the rate itself is on the candidate's line; say only what it falls short of
            reason=f"not above entry_rate {money.setting_rate(config.entry_rate)}",
        )
    short = rate > 0
    hedged = False
    strategy: Kind = config.kind
    if config.kind == "carry":
        if short and perp.has_spot:
            hedged = True
        elif not config.allow_unhedged:
            why = "no spot market to hedge" if short else "negative funding needs a naked long"
            return replace(base, strategy="carry", reason=f"{why} (allow_unhedged is off)")
    if perp.mark <= 0 or notional <= 0:
        return replace(base, strategy=strategy, reason="no room under the notional limits")
    step = perp.step_size
    min_qty = perp.min_quantity
    if hedged:
        assert perp.spot_step_size is not None
        step = max(step, perp.spot_step_size)
        min_qty = max(min_qty, perp.spot_min_quantity or ZERO)
    qty = _step_down(notional / perp.mark, step)
    if qty <= 0 or qty < min_qty:
        return replace(
            base,
            strategy=strategy,
            reason=f"size {money.size(qty, step)} below the minimum {money.size(min_qty, step)}",
        )
    perp_side: Side = "Ask" if short else "Bid"
    perp_fill = _slippage(perp.bids, perp.asks, perp_side, qty, perp.mark)
    if perp_fill is None:
        return replace(base, strategy=strategy, reason="perp book too thin for the size")
    perp_px, slip = perp_fill
    size_notional = qty * perp.mark
    cost = TWO * size_notional * fees.perp_taker
    legs = [Leg(perp.symbol, perp_side, qty, expected_price=perp_px)]
    if hedged:
        assert perp.spot_symbol is not None
        ref = perp.spot_price if perp.spot_price is not None else perp.mark
        spot_fill = _slippage(perp.spot_bids, perp.spot_asks, "Bid", qty, ref)
        if spot_fill is None:
            return replace(base, strategy=strategy, reason="spot book too thin for the size")
        spot_px, spot_slip = spot_fill
        slip += spot_slip
        cost += TWO * qty * spot_px * fees.spot_taker
        legs.append(Leg(perp.spot_symbol, "Bid", qty, expected_price=spot_px))
    slip *= TWO  # the exit walks the book again
    intervals = config.horizon_hours / perp.funding_interval_hours
    expected = abs(rate) * size_notional * intervals
    edge = expected - cost - slip
    need = config.min_edge_bps * BPS * size_notional
    eligible = edge >= need
    reason = (
        f"edge {money.usdc(edge)} ≥ {money.usdc(need)}"
        if eligible
        else f"edge {money.usdc(edge)} < {money.usdc(need)} after fees and slippage"
    )
    return Candidate(
        symbol=perp.symbol,
        funding_rate=rate,
        strategy=strategy,
        quantity=qty,
        notional=size_notional,
        expected_funding=expected,
        fees=cost,
        slippage=slip,
        edge=edge,
        eligible=eligible,
        reason=reason,
    )


def exchange_stop_price(pos: StrategyPosition, config: StrategyConfig) -> Decimal | None:
    """The trigger of the stop-loss the exchange holds for ``pos`` (``stop_on_exchange``), or
    ``None`` when the cycle checks it instead. Only an unhedged perp gets one: its unhedged PnL
    is the perp's, so "lose ``stop_loss_pct`` % of notional" is a mark price; a stop on one leg
    of a hedged pair would leave the other naked."""
    if not config.stop_on_exchange or pos.perp_quantity == 0 or pos.spot_quantity > 0:
        return None
    move = config.stop_loss_pct / HUNDRED * pos.perp_entry
    return pos.perp_entry + move if pos.is_short else pos.perp_entry - move


def exit_reason(
    pos: StrategyPosition, perp: PerpSnapshot, config: StrategyConfig, now_ms: int
) -> str | None:
    """Why ``pos`` should be closed now, or ``None`` to keep it."""
    if pos.perp_quantity == 0:
        return "leftover spot hedge after a partial close"
    pnl = pos.unhedged_pnl(perp.mark, perp.spot_price)
    limit = config.stop_loss_pct / HUNDRED * pos.notional
    if pnl <= -limit and exchange_stop_price(pos, config) is None:
        return f"stop-loss: unhedged PnL {money.usdc(pnl)} ≤ -{money.usdc(limit)}"
    earning = perp.funding_rate if pos.is_short else -perp.funding_rate
    if earning < 0:
        return f"funding flipped to {money.rate(perp.funding_rate, 'interval')}"
    if earning < config.exit_rate:
        return (
            f"rate {money.rate(perp.funding_rate, 'interval')} below the exit threshold "
            f"{money.setting_rate(config.exit_rate)}"
        )
    held_h = Decimal(now_ms - pos.opened_at_ms) / HOUR_MS
    if held_h >= config.max_hold_hours:
        return f"held {money.number(held_h, 1)} h ≥ max {money.number(config.max_hold_hours)} h"
    return None


def close_action(pos: StrategyPosition, perp: PerpSnapshot | None, reason: str) -> Action:
    """The orders that flatten ``pos``: a reduce-only perp order and, for carry, a spot sale."""
    side: Side = "Bid" if pos.is_short else "Ask"
    qty = abs(pos.perp_quantity)
    price = pos.perp_entry
    if perp is not None:
        est = _slippage(perp.bids, perp.asks, side, qty, perp.mark)
        price = est[0] if est is not None else perp.mark
    legs = [Leg(pos.symbol, side, qty, reduce_only=True, expected_price=price)] if qty else []
    if pos.spot_symbol is not None and pos.spot_quantity > 0:
        spot_px = pos.spot_entry
        if perp is not None and perp.spot_price is not None:
            est = _slippage(perp.spot_bids, perp.spot_asks, "Ask", pos.spot_quantity, spot_px)
            spot_px = est[0] if est is not None else perp.spot_price
        legs.append(Leg(pos.spot_symbol, "Ask", pos.spot_quantity, expected_price=spot_px))
    return Action(
        kind="close",
        symbol=pos.symbol,
        strategy=pos.kind,
        legs=tuple(legs),
        reason=reason,
        funding_rate=perp.funding_rate if perp is not None else ZERO,
        notional=qty * (perp.mark if perp is not None else pos.perp_entry),
    )


def candidates(
    snapshot: MarketSnapshot, portfolio: Portfolio, config: StrategyConfig, now_ms: int
) -> list[Candidate]:
    """Every perp evaluated for entry, best edge first; ineligible ones say why."""
    out: list[Candidate] = []
    cooldown_ms = config.cooldown_minutes * 60_000
    for perp in snapshot.perps:
        if not config.allows(perp):
            continue
        c = plan_entry(perp, config, config.trade_notional, snapshot.fees)
        if not c.eligible:
            out.append(c)
            continue
        why = ""
        if perp.volume_24h < config.min_volume_24h:
            why = f"24h volume {money.usdc(perp.volume_24h)} < {money.usdc(config.min_volume_24h)}"
        elif portfolio.position(perp.symbol) is not None:
            why = "already open"
        else:
            last = portfolio.last_exit_ms.get(perp.symbol)
            if last is not None and now_ms - last < cooldown_ms:
                left = (cooldown_ms - (now_ms - last)) // 60_000 + 1
                why = f"cooling down ({left} min left)"
        out.append(replace(c, eligible=False, reason=why) if why else c)
    out.sort(key=lambda c: c.edge, reverse=True)
    return out


def decide(
    snapshot: MarketSnapshot, portfolio: Portfolio, config: StrategyConfig, now_ms: int
) -> list[Action]:
    """The intended actions now: exits first, then the best entries the limits leave room for."""
    actions: list[Action] = []
    kept: list[StrategyPosition] = []
    for pos in portfolio.positions:
        perp = snapshot.get(pos.symbol)
        if perp is None:
            kept.append(pos)  # no price: nothing can be judged this cycle
            continue
        reason = exit_reason(pos, perp, config, now_ms)
        if reason is None:
            kept.append(pos)
        else:
            actions.append(close_action(pos, perp, reason))
    open_count = len(kept)
    used = sum((p.notional for p in kept), ZERO)
    for c in candidates(snapshot, portfolio, config, now_ms):
        if not c.eligible:
            continue
        if open_count >= config.max_positions:
            break
        room = min(config.max_notional_total - used, config.max_notional_per_symbol)
        perp = snapshot.get(c.symbol)
        assert perp is not None
        plan = c
        if c.notional > room:
            plan = plan_entry(perp, config, room, snapshot.fees)
            if not plan.eligible:
                continue
        actions.append(open_action(plan, perp))
        open_count += 1
        used += plan.notional
    return actions


def open_action(c: Candidate, perp: PerpSnapshot) -> Action:
    """The orders of an eligible candidate."""
    assert c.strategy is not None
    short = c.funding_rate > 0
    side: Side = "Ask" if short else "Bid"
    est = _slippage(perp.bids, perp.asks, side, c.quantity, perp.mark)
    legs = [Leg(perp.symbol, side, c.quantity, expected_price=est[0] if est else perp.mark)]
    hedged = c.strategy == "carry" and short and perp.has_spot
    if hedged:
        assert perp.spot_symbol is not None
        ref = perp.spot_price if perp.spot_price is not None else perp.mark
        spot = _slippage(perp.spot_bids, perp.spot_asks, "Bid", c.quantity, ref)
        legs.append(
            Leg(perp.spot_symbol, "Bid", c.quantity, expected_price=spot[0] if spot else ref)
        )
    what = "short perp + buy spot" if hedged else ("short perp" if short else "long perp")
    reason = (
        f"{what}: funding {money.rate(c.funding_rate, 'interval')}, expected "
        f"{money.usdc(c.expected_funding, unit=False)} − fees {money.usdc(c.fees, unit=False)} − "
        f"slippage {money.usdc(c.slippage, unit=False)} = edge {money.usdc(c.edge)}"
    )
    return Action(
        kind="open",
        symbol=c.symbol,
        strategy=c.strategy,
        legs=tuple(legs),
        reason=reason,
        funding_rate=c.funding_rate,
        notional=c.notional,
        expected_edge=c.edge,
    )
