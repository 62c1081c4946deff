"""The Backpack Exchange client: REST, signing, streams, markets and the error tree."""

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.exchange.markets import Market

__all__ = ["BackpackAPI", "BackpackError", "Market"]
