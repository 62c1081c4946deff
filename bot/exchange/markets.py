"""Markets: the parsed market object, symbol resolution, and tick/step rounding and checks.

All pure: nothing here talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from bot.exchange.errors import InvalidOrder, InvalidSymbol


@dataclass(frozen=True, slots=True)
class Market:
    """One market's trading rules."""

    symbol: str
    base: str
    quote: str
    market_type: str  # "SPOT" | "PERP" | ...
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal | None
    min_price: Decimal | None
    max_price: Decimal | None
    funding_interval_ms: int | None
    open: bool

    @property
    def is_perp(self) -> bool:
        return self.market_type == "PERP"

    @classmethod
    def from_wire(cls, row: dict[str, Any]) -> Market:
        f = row.get("filters") or {}
        p = f.get("price") or {}
        q = f.get("quantity") or {}

        def opt(v: Any) -> Decimal | None:
            return Decimal(str(v)) if v not in (None, "") else None

        return cls(
            symbol=row["symbol"],
            base=row.get("baseSymbol", ""),
            quote=row.get("quoteSymbol", ""),
            market_type=row.get("marketType", "SPOT"),
            tick_size=Decimal(str(p.get("tickSize", "0.01"))),
            step_size=Decimal(str(q.get("stepSize", "0.01"))),
            min_quantity=Decimal(str(q.get("minQuantity") or q.get("stepSize") or "0")),
            max_quantity=opt(q.get("maxQuantity")),
            min_price=opt(p.get("minPrice")),
            max_price=opt(p.get("maxPrice")),
            funding_interval_ms=row.get("fundingInterval"),
            open=row.get("orderBookState", "Open") == "Open",
        )


def plain(value: Decimal) -> str:
    """A decimal as people and the exchange write it: ``0.0000001``, ``10``, never ``1E+1``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def to_decimal(value: Any, name: str) -> Decimal:
    """Accept Decimal, str, int or float (via its shortest repr); reject garbage clearly."""
    if isinstance(value, bool):
        raise InvalidOrder(f"{name} must be a number, not {value!r}", code="INVALID_CLIENT_REQUEST")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidOrder(
            f"{name} must be a number, got {value!r}", code="INVALID_CLIENT_REQUEST"
        ) from None
    if not d.is_finite():
        raise InvalidOrder(f"{name} must be a finite number", code="INVALID_CLIENT_REQUEST")
    return d


def is_buy(side: str) -> bool:
    s = side.strip().upper()
    if s in ("BUY", "BID", "LONG"):
        return True
    if s in ("SELL", "ASK", "SHORT"):
        return False
    raise InvalidOrder(f"side must be BUY or SELL, got {side!r}", code="INVALID_CLIENT_REQUEST")


def round_quantity(market: Market, quantity: Decimal) -> Decimal:
    """Round a size down to the market's step (never trade more than asked)."""
    step = market.step_size
    return (quantity / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_price(market: Market, price: Decimal, side: str) -> Decimal:
    """Round a limit price to the tick in the safe direction: buys down, sells up."""
    tick = market.tick_size
    mode = ROUND_FLOOR if is_buy(side) else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=mode) * tick


def validate_order(market: Market, quantity: Decimal | None, price: Decimal | None) -> None:
    """Check an already-rounded order against the market's limits; raise a readable error."""
    sym = market.symbol
    if not market.open:
        raise InvalidOrder(f"{sym} is not open for trading", code="INVALID_ORDER")
    if quantity is not None:
        if quantity <= 0:
            raise InvalidOrder(
                f"quantity must be positive (the step for {sym} is {plain(market.step_size)})",
                code="INVALID_QUANTITY",
            )
        if quantity < market.min_quantity:
            raise InvalidOrder(
                f"quantity {plain(quantity)} is below the minimum "
                f"{plain(market.min_quantity)} for {sym}",
                code="INVALID_QUANTITY",
            )
        if market.max_quantity is not None and quantity > market.max_quantity:
            raise InvalidOrder(
                f"quantity {plain(quantity)} is above the maximum "
                f"{plain(market.max_quantity)} for {sym}",
                code="INVALID_QUANTITY",
            )
    if price is not None:
        if price <= 0:
            raise InvalidOrder("price must be positive", code="INVALID_PRICE")
        if market.min_price is not None and price < market.min_price:
            raise InvalidOrder(
                f"price {plain(price)} is below the minimum {plain(market.min_price)} for {sym}",
                code="INVALID_PRICE",
            )
        if market.max_price is not None and price > market.max_price:
            raise InvalidOrder(
                f"price {plain(price)} is above the maximum {plain(market.max_price)} for {sym}",
                code="INVALID_PRICE",
            )


def resolve_symbol(text: str, markets: dict[str, Market]) -> str:
    """``btc`` → ``BTC_USDC_PERP``; ``sol_usdc`` → ``SOL_USDC`` (spot); exact symbols pass.

    A bare asset means its USDC perp when there is one, else its USDC spot market.
    """
    raw = text.strip()
    if raw in markets:
        return raw
    lower = raw.lower()
    by_lower = {s.lower(): s for s in markets}
    if lower in by_lower:
        return by_lower[lower]
    for candidate in (f"{lower}_usdc_perp", f"{lower}_usdc"):
        if candidate in by_lower:
            return by_lower[candidate]
    hint = ", ".join(sorted({m.base for m in markets.values() if m.is_perp})[:12])
    shown = raw.upper()  # symbols are said back in capitals, as the exchange writes them
    raise InvalidSymbol(
        f"unknown market {shown!r}. Try one of: {hint}" if hint else f"unknown market {shown!r}",
        code="INVALID_SYMBOL",
    )
