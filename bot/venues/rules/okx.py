"""OKX's rules (ccxt's ``okx`` class, USDT-margined perpetual swaps).

- Markets: perps only; the coin list (a private read) is not asked for.
- Client ids: ``clOrdId``, 1 to 32 letters and digits; the bot's decimal id fits as is.
- Market orders are native (``ordType=market``, no price), margined ``tdMode=cross``.
- Sizes are in **contracts**: ``ctVal`` coins each (BTC-USDT-SWAP: 0.01 BTC). The venue port
  speaks coins, so a quantity is divided by the contract size on the way out and multiplied on
  the way back; the step and minimum are ``lotSz``/``minSz`` contracts.
- Funding: the interval is the distance between ``fundingTime`` and ``nextFundingTime``.
"""

from __future__ import annotations

from bot.venues.rules.base import VenueRules


class OkxRules(VenueRules):
    market_types = ("swap",)
    read_currencies = False
