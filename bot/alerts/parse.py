"""``/alert`` arguments → an :class:`AlertSpec`, or an :class:`AlertSyntaxError` with an example.

Accepted forms (symbols as in /price; ``above``/``below`` for ``>``/``<``)::

    BTC > 70000            BTC below 60000
    ETH change 5% 1h       (a move of ±5 % within an hour; windows 1m … 7d)
    BTC funding > 0.05%    (rate per funding interval; a plain 0.0005 works too)
    SOL funding < -0.02%
    BTC funding apr > 30%
    BTC spread > 20% apr   (cross-venue funding spread, with a hedge venue; "apr" optional)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from bot.render import money
from bot.services.chat.numbers import NumberError, bounds, parse_duration, parse_number

EXAMPLES = (
    "/alert BTC > 70000",
    "/alert BTC below 60000",
    "/alert ETH change 5% 1h",
    "/alert BTC funding > 0.05%",
    "/alert BTC funding apr > 30%",
    "/alert BTC spread > 20% apr",
)
_OPS = {">": ">", "above": ">", ">=": ">", "<": "<", "below": "<", "<=": "<"}
MAX_WINDOW = 7 * 86400
#: A price threshold must lie within this factor of the current price, either way.
PRICE_FACTOR = Decimal(1000)
#: Funding thresholds per interval: ±10 % (real rates are capped far below that).
MAX_FUNDING = Decimal("0.1")
#: Funding APR thresholds: ±10,000 %.
MAX_APR = Decimal(100)
#: A move alert's size: from 0.1 % to 90 %.
MIN_MOVE, MAX_MOVE = Decimal("0.001"), Decimal("0.9")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


class AlertSyntaxError(ValueError):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """``kind``: price | change | funding | funding_apr | spread_apr (the cross-venue funding
    spread, APR). Thresholds are fractions for rates.

    ``op`` is ``>``, ``<`` or ``±`` (what is stored and evaluated); ``typed_op`` and ``echo`` are
    what the user typed and what was understood, for the reply.
    """

    symbol: str
    kind: str
    op: str
    threshold: Decimal
    window_seconds: int | None = None
    typed_op: str = field(default="", compare=False)
    echo: str = field(default="", compare=False)


def _number(text: str, what: str, example: str, **rules: object) -> tuple[Decimal, str]:
    try:
        n = parse_number(text, what=what, example=example, **rules)  # type: ignore[arg-type]
    except NumberError as err:
        raise AlertSyntaxError(err.problem.rstrip(".")) from None
    return n.value, n.echo


def _op(word: str) -> str:
    op = _OPS.get(word.lower())
    if op is None:
        raise AlertSyntaxError(f"the operator must be >, <, above or below, not {word!r}")
    return op


def _window(text: str) -> tuple[int, str]:
    try:
        d = parse_duration(
            text, what="window", example="/alert ETH change 5% 1h", low=60, high=MAX_WINDOW
        )
    except NumberError as err:
        raise AlertSyntaxError(err.problem.rstrip(".")) from None
    return d.seconds, d.echo


def parse_alert(args: list[str]) -> AlertSpec:
    """Parse the words after ``/alert`` (operators may be glued: ``BTC>70000``)."""
    text = " ".join(args)
    text = re.sub(r"(>=|<=|>|<)", r" \1 ", text)
    words = text.split()
    if len(words) < 2:
        raise AlertSyntaxError("tell me the market and the condition")
    symbol, rest = words[0], [w.lower() for w in words[1:]]
    if not _SYMBOL.match(symbol):
        raise AlertSyntaxError(f"{symbol[:24]!r} is not a market; put the market first, e.g. BTC")
    if rest[0] == "change":
        if len(rest) != 3:
            raise AlertSyntaxError("a move alert needs a size and a window, like 5% 1h")
        size, shown = _number(
            rest[1],
            "move",
            "/alert ETH change 5% 1h",
            percent="assume",
            zero=True,
            low=MIN_MOVE,
            high=MAX_MOVE,
        )
        seconds, window = _window(rest[2])
        return AlertSpec(
            symbol, "change", "±", size, seconds, "±", f"moves ±{shown} within {window}"
        )
    if rest[0] == "spread":
        words = [w for w in rest[1:] if w != "apr"]  # "spread > 20% apr" or "spread apr > 20%"
        if len(words) != 2:
            raise AlertSyntaxError("a spread alert needs an operator and an APR, like > 20% apr")
        op = _op(words[0])
        value, shown = _number(
            words[1],
            "spread APR",
            "/alert BTC spread > 20% apr",
            percent="assume",
            zero=True,
            low=Decimal(0),
            high=MAX_APR,
        )
        return AlertSpec(
            symbol,
            "spread_apr",
            op,
            value,
            None,
            words[0],
            f"funding spread {words[0]} {shown} APR",
        )
    if rest[0] == "funding":
        kind = "funding"
        if len(rest) > 1 and rest[1] == "apr":
            kind, rest = "funding_apr", rest[1:]
        if len(rest) != 3:
            raise AlertSyntaxError("a funding alert needs an operator and a rate, like > 0.05%")
        op = _op(rest[1])
        if kind == "funding_apr":  # an APR is always read as a percent
            value, shown = _number(
                rest[2],
                "APR",
                "/alert BTC funding apr > 30%",
                percent="assume",
                signed=True,
                zero=True,
                low=-MAX_APR,
                high=MAX_APR,
            )
            return AlertSpec(
                symbol, kind, op, value, None, rest[1], f"funding APR {rest[1]} {shown}"
            )
        value, shown = _number(
            rest[2],
            "funding rate per interval",
            "/alert BTC funding > 0.05%",
            percent="allow",
            signed=True,
            zero=True,
        )
        if not -MAX_FUNDING <= value <= MAX_FUNDING:  # the range in percents, however typed
            raise AlertSyntaxError(
                "The funding rate per interval must be "
                f"{bounds(-MAX_FUNDING, MAX_FUNDING, 'percent')}"
            )
        # a rate is said as a percent per interval, however it was typed (0.0005 → 0.05%)
        per = money.setting_rate(value, "interval")
        return AlertSpec(symbol, kind, op, value, None, rest[1], f"funding {rest[1]} {per}")
    if len(rest) != 2:
        raise AlertSyntaxError("a price alert is a market, an operator and a price")
    op = _op(rest[0])
    price, shown = _number(rest[1], "price", "/alert BTC > 70000", usdc=True, suffixes=True)
    return AlertSpec(symbol, "price", op, price, None, rest[0], f"{rest[0]} {shown}")


def check_price(spec: AlertSpec, current: Decimal) -> None:
    """A price threshold must be within 1/1000× and 1000× of the current price."""
    if spec.kind != "price" or current <= 0:
        return
    low, high = current / PRICE_FACTOR, current * PRICE_FACTOR
    if not low <= spec.threshold <= high:
        raise AlertSyntaxError(
            f"the price must be between {money.price(low)} and {money.price(high)} "
            f"(1/1000× to 1000× of the current {money.price(current)})"
        )
