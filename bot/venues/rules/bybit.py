"""Bybit's rules (ccxt's ``bybit`` class, linear USDT/USDC perpetuals).

- Markets: perps only; the coin list (a private read) is not asked for.
- Client ids: ``orderLinkId``, up to 36 characters; the bot's decimal id fits as is.
- Market orders are native (``orderType=Market``, no price).
- Sizes are in coins (``qtyStep``); ``minOrderQty`` and ``minNotionalValue`` are the minimums.
- Funding: each instrument says its interval (``fundingInterval``, in minutes) and the ticker
  its next payment time.
"""

from __future__ import annotations

from bot.venues.rules.base import VenueRules


class BybitRules(VenueRules):
    market_types = ("linear",)
    read_currencies = False
