"""Stop legs: a stop-loss or take-profit on an open position (``/sl``, ``/tp``), and the ones
attached to a new entry (``sl … tp …``) — checked against the entry, the mark and the
liquidation price so none would fire at once or only after liquidation. Pure, no network."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from bot.render import money
from bot.services.orders.intent import (
    STOP_NAMES,
    IntentError,
    OrderIntent,
    Side,
    StopIntent,
    examples,
)
from bot.services.orders.legs import ZERO, LegPreview, MarketView, check_decimals


def attach_stops(intent: OrderIntent, leg: LegPreview, view: MarketView) -> LegPreview:
    """Check an entry's attached stop-loss/take-profit against the expected entry price."""
    m = view.market
    ex = examples(intent.side)
    if not m.is_perp:
        raise IntentError(f"'sl'/'tp' apply to perp markets only; {m.symbol} is spot.", ex)
    if intent.reduce_only:
        raise IntentError("'sl'/'tp' protect a new entry; they cannot go on a 'reduce' order.", ex)
    buy = intent.side == "buy"
    ref = leg.est_price
    notes: list[str] = []
    for kind, raw in (("sl", intent.stop_loss), ("tp", intent.take_profit)):
        if raw is None:
            continue
        check_decimals(raw, m.tick_size, f"{STOP_NAMES[kind]} price", m.symbol, ex)
        below = (kind == "sl") == buy  # a long's stop-loss and a short's take-profit are below
        if (raw >= ref) if below else (raw <= ref):
            where = "below" if below else "above"
            side = "long" if buy else "short"
            raise IntentError(
                f"A {STOP_NAMES[kind]} for a {side} must be {where} the entry price "
                f"(≈ {money.price(ref, m.tick_size)}); {money.price(raw, m.tick_size)} would "
                "fire at once.",
                ex,
            )
        pnl = (raw - ref) * leg.quantity * (1 if buy else -1) - leg.quantity * raw * view.taker_fee
        notes.append(
            # written as the preview's own line writes it ("stop-loss at 90,000 once filled")
            f"{STOP_NAMES[kind]} at {money.price(raw)}: ≈ {money.signed_usdc(pnl)}"
        )
    return replace(
        leg,
        stop_loss=intent.stop_loss,
        take_profit=intent.take_profit,
        notes=(*leg.notes, *notes),
    )


def stop_trigger(intent: StopIntent, entry: Decimal, long: bool, tick: Decimal) -> Decimal:
    """The trigger price a stop asks for: as given, or ``distance`` from ``entry`` on the side
    where it protects (a long's stop-loss below, its take-profit above) on the nearest tick."""
    # Quantized to the tick's exponent too, so the price is written as the market writes it.
    if intent.trigger is not None:
        return intent.trigger.quantize(tick.normalize())
    assert intent.distance is not None
    up = (intent.kind == "tp") == long
    raw = entry * (1 + intent.distance) if up else entry * (1 - intent.distance)
    return ((raw / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick).quantize(
        tick.normalize()
    )


def build_stop(intent: StopIntent, view: MarketView) -> LegPreview:
    """A reduce-only conditional market order on the whole position, refused when it would
    fire at once (a long's stop above the mark, a short's below) or only after liquidation."""
    m = view.market
    ex = examples(intent.kind)
    name = STOP_NAMES[intent.kind]
    if not m.is_perp:
        raise IntentError(f"/{intent.kind} protects perp positions; {m.symbol} is spot.", ex)
    pos = view.position
    if pos == 0:
        raise IntentError(f"No open {m.base} position to protect.", "/positions lists what is open")
    long = pos > 0
    entry = view.entry_price or view.mid
    mark = view.mark_price or view.mid
    if intent.trigger is not None:
        check_decimals(intent.trigger, m.tick_size, "trigger price", m.symbol, ex)
    trigger = stop_trigger(intent, entry, long, m.tick_size)
    if trigger <= 0:
        raise IntentError(f"The {name} price must be above 0.", ex)
    below = (intent.kind == "sl") == long
    side_name = "long" if long else "short"
    if (trigger >= mark) if below else (trigger <= mark):
        where = "below" if below else "above"
        raise IntentError(
            f"A {name} for a {side_name} must be {where} the mark price "
            f"{money.price(mark, m.tick_size)}; at {money.price(trigger, m.tick_size)} it would "
            "fire at once.",
            ex,
        )
    liq = view.liquidation_price
    if (
        intent.kind == "sl"
        and liq is not None
        and liq > 0
        and (trigger <= liq if long else trigger >= liq)
    ):
        raise IntentError(
            f"A stop-loss at {money.price(trigger, m.tick_size)} is past the liquidation price "
            f"{money.price(liq, m.tick_size)}: the position would be liquidated before it "
            f"fires. Put it {'above' if long else 'below'} {money.price(liq, m.tick_size)}.",
            ex,
        )
    qty = abs(pos)
    side: Side = "sell" if long else "buy"
    fee = qty * trigger * view.taker_fee
    pnl = (trigger - entry) * pos - fee
    replaces = tuple(oid for kind, oid in view.stops if kind == intent.kind)
    notes = [f"replaces the current {name}"] if replaces else []
    return LegPreview(
        symbol=m.symbol,
        base=m.base,
        quote=m.quote,
        perp=True,
        side=side,
        order_type="MARKET",
        quantity=qty,
        price=None,
        post_only=False,
        reduce_only=True,
        est_price=trigger,
        taker_qty=qty,
        mid=view.mid,
        slippage=ZERO,
        notional=qty * trigger,
        fee=fee,
        position_before=pos,
        position_after=ZERO,
        margin=ZERO,
        available=view.available,
        asked=(
            money.typed(intent.distance * 100) + "%"
            if intent.distance is not None
            else money.price(trigger, m.tick_size)
        ),
        notes=tuple(notes),
        stop=intent.kind,
        trigger_price=trigger,
        entry_price=entry,
        mark_price=mark,
        liquidation_price=liq,
        pnl_at_trigger=pnl,
        replaces=replaces,
    )
