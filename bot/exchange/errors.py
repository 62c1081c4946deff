"""The client's exception tree — catch at the level you care about.

::

    BackpackError                 every error the client raises; .code, .message, .status
    ├── AuthError                 bad key/secret, bad signature, expired request, clock skew
    ├── RateLimitError            HTTP 429 / TOO_MANY_REQUESTS
    ├── InsufficientFunds         INSUFFICIENT_FUNDS / _MARGIN / _SUPPLY, MAX_LEVERAGE_REACHED
    ├── BadRequest                any other rejected request (INVALID_CLIENT_REQUEST ...)
    │   └── InvalidOrder          the order breaks a rule (tick, step, min/max size, post-only ...)
    │       ├── InvalidSymbol     no such market
    │       ├── InvalidTrigger    a conditional order's or attached SL/TP's fields are refused
    │       └── ReduceOnlyRejected  a reduce-only order (every stop) would not reduce a position
    ├── NotFound                  RESOURCE_NOT_FOUND (order or position does not exist)
    ├── ExchangeUnavailable       5xx, MAINTENANCE, TRADING_PAUSED
    └── NetworkError              the request may not have arrived (connection, DNS, TLS)
        ├── RequestTimeout        no answer in time
        └── OrderStatusUnknown    an order was sent, no answer came, and the clientId lookup
                                  could not tell whether it exists — check before re-sending

Every error carries the exchange's ``code`` and ``message`` (or our own code for client-side
checks, e.g. ``INVALID_QUANTITY``). Messages never contain the API secret.
"""

from __future__ import annotations

import json


class BackpackError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str, *, code: str = "ERROR", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class AuthError(BackpackError):
    """The exchange refused our credentials or signature."""


class RateLimitError(BackpackError):
    """Too many requests."""


class InsufficientFunds(BackpackError):
    """Not enough balance or margin for the order."""


class BadRequest(BackpackError):
    """The exchange rejected the request as invalid."""


class InvalidOrder(BadRequest):
    """The order breaks a market or exchange rule."""


class InvalidSymbol(InvalidOrder):
    """No market with that symbol."""


class InvalidTrigger(InvalidOrder):
    """A trigger order's fields (``triggerPrice``/``triggerQuantity``/``triggerBy``) or an
    attached stop-loss/take-profit were refused."""


class ReduceOnlyRejected(InvalidOrder):
    """A reduce-only order would not reduce the position (no position, or the wrong side) —
    a stop set on a position that has meanwhile been closed ends here."""


class NotFound(BackpackError):
    """The order, position or resource does not exist."""


class ExchangeUnavailable(BackpackError):
    """The exchange is down, in maintenance, or answered with a server error."""


class NetworkError(BackpackError):
    """The request or its answer was lost on the way."""


class RequestTimeout(NetworkError):
    """No answer within the timeout."""


class OrderStatusUnknown(NetworkError):
    """An order's fate could not be determined; never re-send it blindly."""

    def __init__(self, message: str, *, client_id: int, symbol: str) -> None:
        super().__init__(message, code="ORDER_STATUS_UNKNOWN")
        self.client_id = client_id
        self.symbol = symbol


_BY_CODE: dict[str, type[BackpackError]] = {
    "UNAUTHORIZED": AuthError,
    "INVALID_SIGNATURE": AuthError,
    "TOO_MANY_REQUESTS": RateLimitError,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "INSUFFICIENT_MARGIN": InsufficientFunds,
    "INSUFFICIENT_SUPPLY": InsufficientFunds,
    "MAX_LEVERAGE_REACHED": InsufficientFunds,
    "INVALID_ORDER": InvalidOrder,
    "INVALID_PRICE": InvalidOrder,
    "INVALID_QUANTITY": InvalidOrder,
    "ORDER_LIMIT": InvalidOrder,
    "POSITION_LIMIT": InvalidOrder,
    "INVALID_MARKET": InvalidSymbol,
    "INVALID_SYMBOL": InvalidSymbol,
    "RESOURCE_NOT_FOUND": NotFound,
    "MAINTENANCE": ExchangeUnavailable,
    "TRADING_PAUSED": ExchangeUnavailable,
    "SERVER_ERROR": ExchangeUnavailable,
    "TIMEOUT": RequestTimeout,
}

_AUTH_HINTS = (
    "signature",
    "expired",
    "x-api-key",
    "timestamp",
    "x-window",
    "missing required header",
)


def error_from_response(status: int, text: str) -> BackpackError:
    """Turn an error response (JSON ``{"code","message"}`` or plain text) into an exception."""
    code = "HTTP_ERROR"
    message = text.strip() or f"HTTP {status}"
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "code" in data:
        code = str(data.get("code"))
        message = str(data.get("message") or code)
    cls = _BY_CODE.get(code)
    lower = message.lower()
    if cls is None:
        if code == "INVALID_CLIENT_REQUEST":
            if any(h in lower for h in _AUTH_HINTS):
                cls = AuthError
            elif "market symbol" in lower or "symbol not found" in lower:
                cls = InvalidSymbol
            elif "decimal too long" in lower or "quantity" in lower or "price" in lower:
                cls = InvalidOrder
            else:
                cls = BadRequest
        elif status == 429:
            cls = RateLimitError
        elif status >= 500:
            cls = ExchangeUnavailable
        elif status in (401, 403):
            cls = AuthError
        elif status == 404:
            cls = NotFound
        elif "marketsymbol" in lower or "invalid market symbol" in lower:
            cls = InvalidSymbol
        else:
            cls = BadRequest
    if cls in (BadRequest, InvalidOrder):
        cls = _refine(lower, cls)
    return cls(message, code=code, status=status)


_TRIGGER_HINTS = ("trigger", "stop loss", "take profit", "stoploss", "takeprofit")


def _refine(lower: str, cls: type[BackpackError]) -> type[BackpackError]:
    """The trigger-specific rejections, told apart by the exchange's message."""
    if "would not reduce" in lower:
        return ReduceOnlyRejected
    if any(h in lower for h in _TRIGGER_HINTS):
        return InvalidTrigger
    return cls
