"""What every venue shares, and ccxt's defaults for a venue without a rules module."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bot.venues.port import OrderBook, Side, VenueMarket

#: How far from the best price a market leg may fill (``HEDGE_MAX_SLIPPAGE``), by default.
DEFAULT_SLIPPAGE = Decimal("0.005")


class Refused(Exception):
    """The venue would refuse this order: said before anything is sent."""


@dataclass(frozen=True, slots=True)
class LegPlan:
    """What ccxt's ``create_order`` is asked for: a market leg as the venue takes it."""

    type: str  # "market" | "limit"
    quantity: Decimal  # base units, already a multiple of the market's step
    price: Decimal | None
    params: dict[str, Any] = field(default_factory=dict)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step``."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(ROUND_DOWN) * step


class VenueRules:
    """ccxt's unified market order, the bot's decimal client id, the market's own minimums."""

    #: ccxt options that make ``load_markets`` read perpetual swaps only.
    market_types: tuple[str, ...] = ()
    #: ``False``: ccxt is told not to read the venue's coin list at start (a private endpoint
    #: on some venues that a trading-only key may not read; the bot needs no coin list).
    read_currencies = True
    #: ``True``: the venue has no market orders; a leg is an IOC limit priced from its book.
    needs_book = False

    def exchange_options(self) -> dict[str, Any]:
        """Options merged into the ccxt exchange's ``options`` at construction."""
        if not self.market_types:
            return {}
        return {"fetchMarkets": {"types": list(self.market_types)}}

    def client_order_id(self, client_id: int) -> str:
        """The venue's client order id for the bot's ``client_id`` (the journal keeps both)."""
        return str(client_id)

    def client_id_of(self, venue_id: Any) -> int | None:
        """The bot's client id back from the venue's, or ``None`` for an order not the bot's."""
        text = str(venue_id) if venue_id is not None else ""
        return int(text) if text.isdigit() else None

    def client_params(self, client_id: int) -> dict[str, Any]:
        """The ``create_order`` params carrying the client id (ccxt maps the unified name)."""
        return {"clientOrderId": self.client_order_id(client_id)}

    def refuse(self, market: VenueMarket, quantity: Decimal, price: Decimal | None) -> str | None:
        """Why the venue would refuse this order, said before sending it (or ``None``)."""
        if quantity < market.min_quantity:
            return f"{quantity} {market.base} is below the minimum {market.min_quantity}"
        if price is not None and market.min_notional and quantity * price < market.min_notional:
            return (
                f"{quantity} {market.base} is worth {quantity * price:.2f} {market.quote}, "
                f"below the minimum order of {market.min_notional} {market.quote}"
            )
        return None

    def plan(
        self,
        market: VenueMarket,
        side: Side,
        quantity: Decimal,
        book: OrderBook | None,
        *,
        reduce_only: bool,
    ) -> LegPlan:
        """The order a market leg becomes on this venue (``book`` only when ``needs_book``)."""
        params: dict[str, Any] = {"reduceOnly": True} if reduce_only else {}
        return LegPlan("market", floor_to(quantity, market.step), None, params)

    def read_params(self) -> dict[str, Any]:
        """Params for account reads (which address or sub-account they are made for)."""
        return {}

    def leverage(self, market_info: dict[str, Any]) -> int | None:
        """The leverage to set on a market before the first order there (``None``: leave it)."""
        return None

    def leverage_params(self) -> dict[str, Any]:
        return {}

    def lookup_by_client_id(self) -> bool:
        """``True``: the venue answers ``fetch_order`` by client id directly."""
        return False
