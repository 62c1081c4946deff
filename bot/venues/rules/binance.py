"""Binance USDⓈ-M futures' rules (ccxt's ``binanceusdm`` class).

- Client ids: ``newClientOrderId``, up to 36 characters of ``[.A-Z:/a-z0-9_-]``; the bot's
  decimal id fits as is (ccxt sends its own broker id only when none is given).
- Market orders are native (``type=MARKET``, no price).
- Sizes are in coins (``contractSize`` 1), to the ``LOT_SIZE``/``MARKET_LOT_SIZE`` step; the
  ``MIN_NOTIONAL`` filter (``notional``) is the minimum order value.
- Funding: every 8 h unless ``fundingInfo`` lists the symbol with its own interval; the next
  payment time comes with the rate (``premiumIndex``).
"""

from __future__ import annotations

from bot.venues.rules.base import VenueRules


class BinanceRules(VenueRules):
    market_types = ("linear",)
