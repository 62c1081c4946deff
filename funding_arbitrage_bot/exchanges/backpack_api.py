"""The seed guide's import path: ``from funding_arbitrage_bot.exchanges.backpack_api import
BackpackAPI``. The client lives in :mod:`bot.exchange`."""

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import (
    AuthError,
    BackpackError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    InvalidSymbol,
    NetworkError,
    NotFound,
    OrderStatusUnknown,
    RateLimitError,
)

__all__ = [
    "AuthError",
    "BackpackAPI",
    "BackpackError",
    "ExchangeUnavailable",
    "InsufficientFunds",
    "InvalidOrder",
    "InvalidSymbol",
    "NetworkError",
    "NotFound",
    "OrderStatusUnknown",
    "RateLimitError",
]
