"""An order leg as the preview shows and stores it, the market view it is priced against, and
the book arithmetic — pure, no network.

:func:`bot.services.orders.quote.build_leg` builds legs from these; :func:`requote` prices an
already-built leg against a fresh book at the tap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from bot.exchange.markets import Market
from bot.render import money
from bot.services.orders.intent import IntentError, Side

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
    return price_leg(view, leg.side == "buy", leg.quantity, leg.price, leg.symbol)[0]


def price_leg(
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


def check_decimals(value: Decimal, unit: Decimal, what: str, sym: str, example: str) -> None:
    allowed = decimals(unit)
    if decimals(value) > allowed:
        raise IntentError(
            f"Too many decimals in the {what} {money.typed(value)}: {sym} goes in steps of "
            f"{money.typed(unit)} (at most {allowed} decimal{'s' if allowed != 1 else ''}).",
            example,
        )


def with_notes(leg: LegPreview, *notes: str) -> LegPreview:
    """The same leg with extra notes (e.g. "re-quoted: the price moved 0.8 %")."""
    return replace(leg, notes=(*leg.notes, *notes))
