"""``/alert`` arguments → an :class:`AlertSpec`, or an :class:`AlertSyntaxError` with an example.

Accepted forms (symbols as in /price; ``above``/``below`` for ``>``/``<``)::

    BTC > 70000            BTC below 60000
    ETH change 5% 1h       (a move of ±5 % within an hour; windows 1m … 7d)
    BTC funding > 0.05%    (rate per funding interval; a plain 0.0005 works too)
    SOL funding < -0.02%
    BTC funding apr > 30%
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

EXAMPLES = (
    "/alert BTC > 70000",
    "/alert BTC below 60000",
    "/alert ETH change 5% 1h",
    "/alert BTC funding > 0.05%",
    "/alert BTC funding apr > 30%",
)
_OPS = {">": ">", "above": ">", ">=": ">", "<": "<", "below": "<", "<=": "<"}
_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_WINDOW = 7 * 86400


class AlertSyntaxError(ValueError):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """``kind``: price | change | funding | funding_apr. Thresholds are fractions for rates."""

    symbol: str
    kind: str
    op: str
    threshold: Decimal
    window_seconds: int | None = None


def _number(text: str, what: str, *, percent: bool = False) -> Decimal:
    """A decimal; ``percent=True`` requires/assumes ``%`` and returns a fraction."""
    raw = text.strip().replace(",", "")
    is_pct = raw.endswith("%")
    if is_pct:
        raw = raw[:-1]
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AlertSyntaxError(f"{what} must be a number, not {text!r}") from None
    if not value.is_finite():
        raise AlertSyntaxError(f"{what} must be a finite number")
    if percent or is_pct:
        value = value / 100
    return value


def _op(word: str) -> str:
    op = _OPS.get(word.lower())
    if op is None:
        raise AlertSyntaxError(f"the operator must be >, <, above or below, not {word!r}")
    return op


def _window(text: str) -> int:
    m = re.fullmatch(r"(\d+)([mhd])", text.strip().lower())
    if m is None:
        raise AlertSyntaxError(f"the window must look like 15m, 1h or 1d, not {text!r}")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 60 <= seconds <= MAX_WINDOW:
        raise AlertSyntaxError("the window must be between 1m and 7d")
    return seconds


def parse_alert(args: list[str]) -> AlertSpec:
    """Parse the words after ``/alert`` (operators may be glued: ``BTC>70000``)."""
    text = " ".join(args)
    text = re.sub(r"(>=|<=|>|<)", r" \1 ", text)
    words = text.split()
    if len(words) < 2:
        raise AlertSyntaxError("tell me the market and the condition")
    symbol, rest = words[0], [w.lower() for w in words[1:]]
    if rest[0] == "change":
        if len(rest) != 3:
            raise AlertSyntaxError("a move alert needs a size and a window, like 5% 1h")
        size = _number(rest[1], "the move", percent=True)
        if size <= 0 or size >= 1:
            raise AlertSyntaxError("the move must be between 0% and 100%, e.g. 5%")
        return AlertSpec(symbol, "change", "±", size, _window(rest[2]))
    if rest[0] == "funding":
        kind = "funding"
        if len(rest) > 1 and rest[1] == "apr":
            kind, rest = "funding_apr", rest[1:]
        if len(rest) != 3:
            raise AlertSyntaxError("a funding alert needs an operator and a rate, like > 0.05%")
        op = _op(rest[1])
        value = _number(rest[2], "the rate")
        if not rest[2].endswith("%") and kind == "funding_apr":
            value = value / 100  # an APR is always read as percent
        if abs(value) >= (100 if kind == "funding_apr" else 1):
            raise AlertSyntaxError("that rate is out of range; write it as a percent, e.g. 0.05%")
        return AlertSpec(symbol, kind, op, value)
    if len(rest) != 2:
        raise AlertSyntaxError("a price alert is a market, an operator and a price")
    op = _op(rest[0])
    price = _number(rest[1], "the price")
    if price <= 0:
        raise AlertSyntaxError("the price must be greater than zero")
    return AlertSpec(symbol, "price", op, price)
