"""Each venue's own rules, one module per venue, applied by :mod:`bot.venues.ccxt_venue`.

ccxt builds and signs every request; a rules module decides what to ask ccxt for (order type,
price, client id field, the account reads are made for, set-up before the first order) and
what to refuse before anything is sent. ``docs/venues.md`` lists them; ``tests/venues/rules/``
proves each against ccxt's own request building for that venue.
"""

from __future__ import annotations

from bot.venues.rules.base import LegPlan, Refused, VenueRules
from bot.venues.rules.binance import BinanceRules
from bot.venues.rules.bybit import BybitRules
from bot.venues.rules.hyperliquid import HyperliquidRules
from bot.venues.rules.okx import OkxRules

__all__ = ["LegPlan", "Refused", "VenueRules", "rules_for"]


def rules_for(exchange_id: str, config: dict[str, object] | None = None) -> VenueRules:
    """The rules of the ccxt exchange ``exchange_id``; ccxt's defaults for any other."""
    config = config or {}
    if exchange_id == "hyperliquid":
        return HyperliquidRules(config)
    if exchange_id == "binanceusdm":
        return BinanceRules()
    if exchange_id == "bybit":
        return BybitRules()
    if exchange_id == "okx":
        return OkxRules()
    return VenueRules()
