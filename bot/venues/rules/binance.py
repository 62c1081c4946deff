"""Binance USDⓈ-M futures' rules (ccxt's ``binanceusdm`` class).

- Client ids: ``newClientOrderId``, up to 36 characters of ``[.A-Z:/a-z0-9_-]``; the bot's
  decimal id fits as is (ccxt sends its own broker id only when none is given).
- Market orders are native (``type=MARKET``, no price).
- Sizes are in coins (``contractSize`` 1), to the ``LOT_SIZE``/``MARKET_LOT_SIZE`` step; the
  ``MIN_NOTIONAL`` filter (``notional``) is the minimum order value.
- Markets: USDⓈ-M perps only, no spot coin list (a futures-only key cannot read it).
- Funding: every 8 h unless ``fundingInfo`` lists the symbol with its own interval; the next
  payment time comes with the rate (``premiumIndex``).
"""

from __future__ import annotations

from typing import Any

from bot.venues.rules.base import VenueRules


class BinanceRules(VenueRules):
    market_types = ("linear",)

    def exchange_options(self) -> dict[str, Any]:
        # ccxt reads the spot wallet's coin list (/sapi) when it holds keys: a futures-only
        # key may not read it, and the bot needs no coin list.
        return {**super().exchange_options(), "fetchCurrencies": False}
