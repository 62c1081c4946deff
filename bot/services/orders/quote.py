"""Turn an intent into a checked, priced order leg — pure functions of the book and the account.

Nothing here talks to the network: :func:`build_leg` takes a :class:`MarketView` (the market's
rules, the book best-first on both sides, the position, fees, leverage and what is available)
and either returns a :class:`LegPreview` whose quantity and price are already rounded to the
market's step and tick, or raises :class:`~bot.services.orders.intent.IntentError` naming the
problem. The same function runs at preview time and again when the preview is re-quoted.

This module builds entries and closes and is the one place callers import from: the leg values
and the book arithmetic live in :mod:`~bot.services.orders.legs`, stop legs in
:mod:`~bot.services.orders.stop_legs`, and their public names are re-exported here.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from bot.render import money
from bot.services.orders.intent import (
    CloseIntent,
    IntentError,
    OrderIntent,
    Side,
    StopIntent,
    examples,
)
from bot.services.orders.legs import (
    ZERO,
    LegPreview,
    Level,
    Limits,
    MarketView,
    OrderType,
    check_decimals,
    decimals,
    drift,
    floor_to,
    plain,
    price_leg,
    quantity_for_notional,
    requote,
    slippage,
    walk,
    with_notes,
)
from bot.services.orders.stop_legs import attach_stops, build_stop, stop_trigger

__all__ = [
    "LegPreview",
    "Level",
    "Limits",
    "MarketView",
    "OrderType",
    "build_leg",
    "decimals",
    "drift",
    "floor_to",
    "plain",
    "quantity_for_notional",
    "requote",
    "slippage",
    "stop_trigger",
    "walk",
    "with_notes",
]


def build_leg(
    intent: OrderIntent | CloseIntent | StopIntent, view: MarketView, limits: Limits
) -> LegPreview:
    """Check and price one leg; raise :class:`IntentError` for anything that must not be sent."""
    m = view.market
    if not m.open:
        raise IntentError(f"{m.symbol} is not open for trading right now.", "")
    if isinstance(intent, CloseIntent):
        return _build_close(intent, view)
    if isinstance(intent, StopIntent):
        return build_stop(intent, view)
    leg = _build_order(intent, view, limits)
    if intent.stop_loss is None and intent.take_profit is None:
        return leg
    return attach_stops(intent, leg, view)


def _build_order(intent: OrderIntent, view: MarketView, limits: Limits) -> LegPreview:
    m = view.market
    buy = intent.side == "buy"
    ex = examples(intent.side)
    if intent.reduce_only and not m.is_perp:
        raise IntentError(
            f"'reduce' applies to perp positions only; {m.symbol} is a spot market.", ex
        )
    mid = view.mid
    notes: list[str] = []

    price: Decimal | None = None
    if intent.price is not None:
        check_decimals(intent.price, m.tick_size, "price", m.symbol, ex)
        mode = ROUND_FLOOR if buy else ROUND_CEILING
        price = (intent.price / m.tick_size).to_integral_value(rounding=mode) * m.tick_size
        price = price.quantize(m.tick_size.normalize())  # the tick's decimals, for the messages
        if price != intent.price:
            notes.append(f"price rounded to the tick {money.typed(m.tick_size)}")
        dev = (price - mid) / mid
        if abs(dev) > limits.max_limit_deviation:
            where = "above" if dev > 0 else "below"
            raise IntentError(
                f"The limit price {money.price(price, m.tick_size)} is "
                f"{money.percent(abs(dev), 0)} {where} the market "
                f"({money.price(mid, m.tick_size)}); keep it within "
                f"{money.percent(limits.max_limit_deviation, 0)}.",
                ex,
            )
        if price < (m.min_price or ZERO) or (m.max_price is not None and price > m.max_price):
            raise IntentError(
                f"The price {money.price(price, m.tick_size)} is outside {m.symbol}'s range "
                f"({money.price(m.min_price, m.tick_size)} to "
                f"{money.price(m.max_price, m.tick_size)}).",
                ex,
            )

    if intent.quantity is not None:
        check_decimals(intent.quantity, m.step_size, "size", m.symbol, ex)
        asked = money.typed(intent.quantity)
        raw_qty = intent.quantity
    else:
        assert intent.notional is not None
        asked = money.usdc(intent.notional)
        if price is not None:
            raw_qty = intent.notional / price
        else:
            raw_qty = quantity_for_notional(view.asks if buy else view.bids, intent.notional, buy)
    qty = floor_to(raw_qty, m.step_size)
    if intent.quantity is not None and qty != intent.quantity:
        notes.append(f"size rounded down to the step {money.typed(m.step_size)}")
    ref = price or mid
    if qty < m.min_quantity or qty <= 0:
        what = (
            f"The size {money.typed(intent.quantity)} {m.base} is"
            if intent.quantity is not None
            else f"{money.usdc(intent.notional or ZERO)} buys only "
            f"{money.typed(raw_qty.quantize(m.step_size / 1000, ROUND_DOWN).normalize())} "
            f"{m.base},"
        )
        least = (m.min_quantity * ref).quantize(Decimal("0.01"), ROUND_CEILING)
        raise IntentError(
            f"{what} below the {m.symbol} minimum of {money.size(m.min_quantity, m.step_size)} "
            f"(≈ {money.usdc(least)}).",
            ex,
        )
    if m.max_quantity is not None and qty > m.max_quantity:
        raise IntentError(
            f"The size {money.size(qty, m.step_size)} {m.base} is above the {m.symbol} "
            f"maximum of {money.size(m.max_quantity, m.step_size)}.",
            ex,
        )
    if intent.post_only and price is not None:
        best = view.asks[0][0] if buy and view.asks else (view.bids[0][0] if view.bids else None)
        if best is not None and (price >= best if buy else price <= best):
            raise IntentError(
                f"A post-only {intent.side} at {money.price(price, m.tick_size)} would trade at "
                f"once against the best {'ask' if buy else 'bid'} "
                f"{money.price(best, m.tick_size)} and be rejected; price it "
                f"{'below' if buy else 'above'} {money.price(best, m.tick_size)}.",
                ex,
            )

    before = view.position
    if intent.reduce_only:
        if before == 0 or (before > 0) == buy:
            have = "no open position" if before == 0 else "a position on the same side"
            raise IntentError(
                f"'reduce' needs a position to reduce; you have {have} in {m.symbol}.", ex
            )
        if qty > abs(before):
            raise IntentError(
                f"'reduce' size {money.size(qty, m.step_size)} is more than your "
                f"{money.size(abs(before), m.step_size)} {m.base} "
                f"position; /close {m.base} closes all of it.",
                ex,
            )
    if not m.is_perp and not buy and qty > before:
        raise IntentError(
            f"You have {money.size(before, m.step_size)} {m.base} to sell, less than "
            f"{money.size(qty, m.step_size)}.",
            ex,
        )
    est, taker_qty, taker_avg = price_leg(view, buy, qty, price, m.symbol)
    notional = qty * est
    if not intent.reduce_only and notional > limits.max_notional:
        cap = floor_to(limits.max_notional / est, m.step_size)
        raise IntentError(
            f"The order is worth ≈ {money.usdc(notional)}, over the per-order limit of "
            f"{money.usdc(limits.max_notional)} (MAX_ORDER_NOTIONAL). "
            f"At most ≈ {money.size(cap, m.step_size)} {m.base} fits.",
            f"/{intent.side} {m.base} {plain(cap)}",
        )
    return _finish(
        view,
        side=intent.side,
        qty=qty,
        price=price,
        post_only=intent.post_only,
        reduce_only=intent.reduce_only,
        est=est,
        taker_qty=taker_qty,
        taker_avg=taker_avg,
        asked=asked,
        notes=notes,
        check_funds=True,
    )


def _build_close(intent: CloseIntent, view: MarketView) -> LegPreview:
    m = view.market
    ex = examples("close")
    if not m.is_perp:
        raise IntentError(
            f"/close closes perp positions; {m.symbol} is spot — sell it with "
            f"/sell {m.symbol} <size>.",
            ex,
        )
    pos = view.position
    if pos == 0:
        raise IntentError(f"No open {m.base} position.", "/positions lists what is open")
    full = abs(pos)
    qty = full if intent.fraction == 1 else floor_to(full * intent.fraction, m.step_size)
    pct = money.typed((intent.fraction * 100).normalize())
    if qty < m.min_quantity or qty <= 0:
        raise IntentError(
            f"{pct}% of your {money.size(full, m.step_size)} {m.base} position is below the "
            f"minimum size {money.size(m.min_quantity, m.step_size)}; close all of it instead.",
            f"/close {m.base}",
        )
    side: Side = "sell" if pos > 0 else "buy"
    est, taker_qty, taker_avg = price_leg(view, side == "buy", qty, None, m.symbol)
    notes = [] if intent.fraction == 1 else [f"{pct}% of the position"]
    return _finish(
        view,
        side=side,
        qty=qty,
        price=None,
        post_only=False,
        reduce_only=True,
        est=est,
        taker_qty=taker_qty,
        taker_avg=taker_avg,
        asked=f"{pct}%",
        notes=notes,
        check_funds=False,
    )


def _finish(
    view: MarketView,
    *,
    side: Side,
    qty: Decimal,
    price: Decimal | None,
    post_only: bool,
    reduce_only: bool,
    est: Decimal,
    taker_qty: Decimal,
    taker_avg: Decimal,
    asked: str,
    notes: list[str],
    check_funds: bool,
) -> LegPreview:
    m = view.market
    buy = side == "buy"
    mid = view.mid
    notional = qty * est
    resting = qty - taker_qty
    fee = taker_qty * taker_avg * view.taker_fee + resting * (price or est) * view.maker_fee
    before = view.position
    after = before + qty if buy else before - qty
    if m.is_perp:
        margin = (abs(after) - abs(before)) * est / view.leverage
    else:
        margin = notional + fee if buy else ZERO
    if check_funds and margin > view.available:
        what = "USDC of margin" if m.is_perp else "USDC"
        raise IntentError(
            f"Not enough funds: the order needs ≈ {money.usdc(margin, unit=False)} "
            f"{what} and {money.usdc(view.available)} is available.",
            examples(side),
        )
    if resting > 0 and price is not None:
        notes.append(
            f"{money.size(resting, m.step_size)} rests on the book at "
            f"{money.price(price, m.tick_size)}"
            if taker_qty
            else f"rests on the book at {money.price(price, m.tick_size)} until filled"
        )
    return LegPreview(
        symbol=m.symbol,
        base=m.base,
        quote=m.quote,
        perp=m.is_perp,
        side=side,
        order_type="LIMIT" if price is not None else "MARKET",
        quantity=qty,
        price=price,
        post_only=post_only,
        reduce_only=reduce_only,
        est_price=est,
        taker_qty=taker_qty,
        mid=mid,
        slippage=slippage(taker_avg, mid, buy) if taker_qty else ZERO,
        notional=notional,
        fee=fee,
        position_before=before,
        position_after=after,
        margin=margin,
        available=view.available,
        asked=asked,
        notes=tuple(notes),
    )
