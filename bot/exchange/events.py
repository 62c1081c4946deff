"""Stream frames → typed events — pure, no I/O, no state.

:func:`parse_frame` turns one decoded WebSocket message (``{"stream", "data"}``) into one of
the small frozen events below, with prices already ``Decimal``; the client then updates its
caches and hands the event to callbacks. Nothing downstream reads a raw frame's one-letter keys.
Unknown streams give ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.exchange.transport import decimalize


@dataclass(frozen=True, slots=True)
class Trade:
    """A last-traded price: ``ticker.<sym>`` (``{"s": "BTC_USDC_PERP", "c": "97000.1", …}``)
    or ``trade.<sym>`` (``{"s": …, "p": "97000.1", …}``)."""

    symbol: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class BestBidAsk:
    """``bookTicker.<sym>``: ``{"s": …, "b": "96999.9", "a": "97000.1", "u": 1000123, …}``
    (``u`` is a number live, a string in the AsyncAPI document; it is not needed here)."""

    symbol: str
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """``markPrice.<sym>``: ``{"s": …, "p": mark, "f": funding rate, "n": next funding ms}``;
    ``f``/``n`` only for perps."""

    symbol: str
    mark: Decimal
    funding_rate: Decimal | None
    next_funding_ms: int | None


@dataclass(frozen=True, slots=True)
class DepthDelta:
    """``depth.<sym>``: ``{"s", "U", "u", "b": [[p, q]…], "a": […]}`` (applied to a local book
    as is)."""

    symbol: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``account.orderUpdate`` (``channel="order"``) or ``account.positionUpdate``
    (``"position"``): the exchange's event with its decimal fields as ``Decimal`` (callbacks get
    ``data``, the documented wire shape: ``e`` event, ``s`` symbol, ``i`` order id, …)."""

    channel: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StreamError:
    """``{"error": …}`` — a refused subscription or a bad request."""

    message: str


Event = Trade | BestBidAsk | MarkPrice | DepthDelta | AccountUpdate | StreamError


def parse_frame(msg: dict[str, Any]) -> Event | None:
    """One decoded frame → its event, or ``None`` for frames nobody needs."""
    data = msg.get("data")
    if data is None:
        return StreamError(str(msg["error"])) if "error" in msg else None
    stream: str = msg.get("stream", "")
    kind = stream.split(".", 1)[0]
    if kind == "ticker":
        return Trade(data["s"], Decimal(data["c"]))
    if kind == "markPrice":
        has_rate = "f" in data
        return MarkPrice(
            data["s"],
            Decimal(data["p"]),
            Decimal(data["f"]) if has_rate else None,
            int(data["n"]) if has_rate else None,
        )
    if kind == "bookTicker":
        return BestBidAsk(data["s"], Decimal(data["b"]), Decimal(data["a"]))
    if kind == "depth":
        return DepthDelta(data["s"], data)
    if kind == "trade":
        return Trade(data["s"], Decimal(data["p"]))
    if kind == "account":
        if "orderUpdate" in stream:
            return AccountUpdate("order", decimalize(data))
        return AccountUpdate("position", position_fields(data))
    return None


#: ``positionUpdate`` keys that hold decimals: break-even, entry, IMF, MMF, mark, quantity,
#: exposure, notional, realised and unrealised PnL, liquidation price.
POSITION_DECIMALS = frozenset("bBfmMqQnpPl")


def position_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A ``positionUpdate`` payload with its decimals as ``Decimal`` and ``i`` as a string.

    Live frames carry decimal strings, the AsyncAPI document (and its example) JSON numbers, and
    ``i`` is a string in the document but a number in a ccxt capture: both forms are read.
    """
    out = dict(data)
    for key, value in data.items():
        if key in POSITION_DECIMALS and isinstance(value, str | int | float):
            try:
                out[key] = Decimal(str(value))
            except ArithmeticError:
                continue
    if isinstance(out.get("i"), int):
        out["i"] = str(out["i"])
    return out
