"""Turn an intent into a checked, priced order leg — pure functions of the book and the account.

Nothing here talks to the network: :func:`build_leg` takes a :class:`MarketView` (the market's
rules, the book best-first on both sides, the position, fees, leverage and what is available)
and either returns a :class:`LegPreview` whose quantity and price are already rounded to the
market's step and tick, or raises :class:`~bot.services.order_intent.IntentError` naming the
problem. The same function runs at preview time and again when the preview is re-quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

from bot.exchange.markets import Market
from bot.render import money
from bot.services.order_intent import (
    STOP_NAMES,
    CloseIntent,
    IntentError,
    OrderIntent,
    Side,
    StopIntent,
    examples,
)

ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]
OrderType = Literal["MARKET", "LIMIT"]


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``1E+2`` → ``100``, ``0.0100`` → ``0.01``)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def decimals(value: Decimal) -> int:
    """How many decimals a number really uses (``0.0100`` → 2, ``100`` → 0)."""
    exp = value.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass(frozen=True, slots=True)
class MarketView:
    """Everything :func:`build_leg` needs to know, fetched by the service in one go.

    ``bids``/``asks`` are best-first ``(price, quantity)`` levels. ``position`` is the signed
    perp position, or the base balance for spot. ``available`` is the USDC the account can
    still commit (free equity for perps, the USDC balance for spot). Fees are fractions
    (0.0005 = 5 bps).
    """

    market: Market
    bids: Sequence[Level]
    asks: Sequence[Level]
    position: Decimal
    available: Decimal
    taker_fee: Decimal
    maker_fee: Decimal
    leverage: Decimal
    #: The perp position's entry, mark and estimated liquidation prices (stops need them).
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    #: Ids of the position's open stop orders of each kind (``"sl"``/``"tp"``) a new one replaces.
    stops: tuple[tuple[str, str], ...] = ()

    @property
    def mid(self) -> Decimal:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        if self.bids:
            return self.bids[0][0]
        if self.asks:
            return self.asks[0][0]
        raise IntentError(
            f"The {self.market.symbol} order book is empty; try again in a moment.", ""
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """The bot's own safety limits (``MAX_ORDER_NOTIONAL``) and the accepted limit-price band
    around the mid (the exchange's own band is ±25 % of the last price)."""

    max_notional: Decimal
    max_limit_deviation: Decimal = Decimal("0.25")


@dataclass(frozen=True, slots=True)
class LegPreview:
    """One order exactly as it will be sent, with what it is expected to cost.

    ``est_price`` is the expected average fill (the book walk for the part that crosses, the
    limit price for the part that rests); ``taker_qty`` is the part expected to fill at once;
    ``slippage`` compares the crossing part's average with the mid (positive = worse than mid);
    ``margin`` is the USDC the order ties up (perp: initial margin added, negative when it frees
    margin; spot buy: the cost).
    """

    symbol: str
    base: str
    quote: str
    perp: bool
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    post_only: bool
    reduce_only: bool
    est_price: Decimal
    taker_qty: Decimal
    mid: Decimal
    slippage: Decimal
    notional: Decimal
    fee: Decimal
    position_before: Decimal
    position_after: Decimal
    margin: Decimal
    available: Decimal
    asked: str
    notes: tuple[str, ...] = ()
    venue: str | None = None  # None: Backpack; "hedge": the hedge venue
    #: A stop leg (``stop`` = ``"sl"``/``"tp"``): a reduce-only conditional order that fires when
    #: the mark price reaches ``trigger_price``; ``pnl_at_trigger`` is the expected realised PnL
    #: then (fees included), ``replaces`` the ids of the stops of that kind it supersedes.
    stop: str = ""
    trigger_price: Decimal | None = None
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    pnl_at_trigger: Decimal | None = None
    replaces: tuple[str, ...] = ()
    #: Protective trigger prices attached to an entry (placed by the exchange when it fills).
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    @property
    def is_buy(self) -> bool:
        return self.side == "buy"

    @property
    def is_stop(self) -> bool:
        return self.trigger_price is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (decimals as strings) — the stored form of the preview."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, Decimal):
                out[name] = str(v)
            elif isinstance(v, tuple):
                out[name] = list(v)
            else:
                out[name] = v
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LegPreview:
        def d(key: str) -> Decimal:
            return Decimal(str(data[key]))

        def opt(key: str) -> Decimal | None:
            return Decimal(str(data[key])) if data.get(key) is not None else None

        return cls(
            symbol=data["symbol"],
            base=data["base"],
            quote=data["quote"],
            perp=bool(data["perp"]),
            side="buy" if data["side"] == "buy" else "sell",
            order_type="LIMIT" if data["order_type"] == "LIMIT" else "MARKET",
            quantity=d("quantity"),
            price=Decimal(str(data["price"])) if data.get("price") is not None else None,
            post_only=bool(data["post_only"]),
            reduce_only=bool(data["reduce_only"]),
            est_price=d("est_price"),
            taker_qty=d("taker_qty"),
            mid=d("mid"),
            slippage=d("slippage"),
            notional=d("notional"),
            fee=d("fee"),
            position_before=d("position_before"),
            position_after=d("position_after"),
            margin=d("margin"),
            available=d("available"),
            asked=str(data["asked"]),
            notes=tuple(str(n) for n in data.get("notes", ())),
            venue=data.get("venue"),
            stop=str(data.get("stop") or ""),
            trigger_price=opt("trigger_price"),
            entry_price=opt("entry_price"),
            mark_price=opt("mark_price"),
            liquidation_price=opt("liquidation_price"),
            pnl_at_trigger=opt("pnl_at_trigger"),
            replaces=tuple(str(r) for r in data.get("replaces", ())),
            stop_loss=opt("stop_loss"),
            take_profit=opt("take_profit"),
        )


def walk(levels: Sequence[Level], quantity: Decimal, limit: Decimal | None, buy: bool) -> Level:
    """Take ``quantity`` from best-first ``levels`` (not past ``limit``): ``(filled, cost)``."""
    left, cost = quantity, ZERO
    for price, size in levels:
        if limit is not None and (price > limit if buy else price < limit):
            break
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 0:
            break
    return quantity - left, cost


def quantity_for_notional(levels: Sequence[Level], notional: Decimal, buy: bool) -> Decimal:
    """How much base ``notional`` USDC buys (or sells for) walking best-first ``levels``; the
    part beyond the visible book is priced at the last level."""
    left, qty = notional, ZERO
    last: Decimal | None = None
    for price, size in levels:
        last = price
        cost = price * size
        if cost >= left:
            return qty + left / price
        qty += size
        left -= cost
    if last is None:
        return ZERO
    return qty + left / last


def slippage(avg: Decimal, mid: Decimal, buy: bool) -> Decimal:
    """How much worse than the mid an average fill is, as a fraction (negative = better)."""
    if mid <= 0:
        return ZERO
    return (avg - mid) / mid if buy else (mid - avg) / mid


def drift(old: Decimal, new: Decimal) -> Decimal:
    """Relative move of the expected price between preview and tap."""
    if old == 0:
        return Decimal(1) if new else ZERO
    return abs(new - old) / old


def requote(leg: LegPreview, view: MarketView) -> Decimal:
    """The expected average fill of an already-built leg against a fresh book.

    Raises :class:`IntentError` when the book can no longer fill a market order.
    """
    return _price_leg(view, leg.side == "buy", leg.quantity, leg.price, leg.symbol)[0]


def _price_leg(
    view: MarketView, buy: bool, qty: Decimal, limit: Decimal | None, symbol: str
) -> tuple[Decimal, Decimal, Decimal]:
    """``(est_price, taker_qty, taker_avg)`` for ``qty`` against the view's book."""
    levels = view.asks if buy else view.bids
    filled, cost = walk(levels, qty, limit, buy)
    if limit is None:
        if filled < qty:
            base = symbol.split("_", 1)[0]
            raise IntentError(
                f"The {symbol} book only shows {money.size(filled)} {base} within reach; a "
                f"market order for {money.size(qty)} {base} would sweep past it. Use a smaller "
                "size or a limit price.",
                "",
            )
        avg = cost / filled
        return avg, filled, avg
    resting = qty - filled
    est = (cost + resting * limit) / qty
    return est, filled, (cost / filled if filled else limit)


def _check_decimals(value: Decimal, unit: Decimal, what: str, sym: str, example: str) -> None:
    allowed = decimals(unit)
    if decimals(value) > allowed:
        raise IntentError(
            f"Too many decimals in the {what} {money.typed(value)}: {sym} goes in steps of "
            f"{money.typed(unit)} (at most {allowed} decimal{'s' if allowed != 1 else ''}).",
            example,
        )


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
        return _build_stop(intent, view)
    leg = _build_order(intent, view, limits)
    if intent.stop_loss is None and intent.take_profit is None:
        return leg
    return _attach_stops(intent, leg, view)


def _attach_stops(intent: OrderIntent, leg: LegPreview, view: MarketView) -> LegPreview:
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
        _check_decimals(raw, m.tick_size, f"{STOP_NAMES[kind]} price", m.symbol, ex)
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


def _build_stop(intent: StopIntent, view: MarketView) -> LegPreview:
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
        _check_decimals(intent.trigger, m.tick_size, "trigger price", m.symbol, ex)
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
        _check_decimals(intent.price, m.tick_size, "price", m.symbol, ex)
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
        _check_decimals(intent.quantity, m.step_size, "size", m.symbol, ex)
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
    est, taker_qty, taker_avg = _price_leg(view, buy, qty, price, m.symbol)
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
    est, taker_qty, taker_avg = _price_leg(view, side == "buy", qty, None, m.symbol)
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


def with_notes(leg: LegPreview, *notes: str) -> LegPreview:
    """The same leg with extra notes (e.g. "re-quoted: the price moved 0.8 %")."""
    return replace(leg, notes=(*leg.notes, *notes))
