"""The one input grammar for numbers and durations typed in chat — pure, no Telegram, no I/O.

A number is plain digits with an optional dot part (``0.5``, ``.5``, ``60000``, ``5.``), with an
optional leading ``+``/``-`` where a sign makes sense, and optionally one unit:

* ``%`` — a percent, always divided by 100 (``0.01%`` is ``0.0001``);
* ``$`` before or after, or ``usdc``/``usd`` after, with or without a space — a USDC notional;
* ``k`` / ``m`` — thousands / millions (``1.5k`` is ``1500``), where the caller allows them.

Everything else — commas, exponents (``1e5``), ``inf``/``nan``, non-ASCII digits, more than
:data:`MAX_DIGITS` digits, a sign where none is allowed, a value outside the caller's range — is
refused with a :class:`NumberError` that says what was wrong and shows an example. The parsed
:class:`Number` keeps what was typed so replies can echo it unrounded, in the unit it was typed in.

Durations (``15m``, ``1h``, ``14d``) have their own small grammar: :func:`parse_duration`, and
:func:`human_duration` says them back (``14 days``, not ``336 h``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.render import money

#: At most this many digits in a number (integer and fraction together): a 60-digit number is a
#: typo or a probe, never a price.
MAX_DIGITS = 20
#: At most this many characters in one typed number (before any parsing).
MAX_LENGTH = 32

Unit = Literal["plain", "percent", "usdc"]
PercentMode = Literal["no", "allow", "assume", "require"]

_PLAIN = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
_EXPONENT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)e[+-]?\d+", re.IGNORECASE)
_WORDS = frozenset({"inf", "infinity", "nan", "snan", "-inf", "+inf", "-nan"})
_SUFFIX = {"k": Decimal(1000), "m": Decimal(1_000_000)}
_USDC_WORDS = ("usdc", "usd")
_HUNDRED = Decimal(100)


class NumberError(ValueError):
    """A typed number that is refused; ``problem`` says why, ``example`` shows a right form."""

    def __init__(self, problem: str, example: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.example = example


@dataclass(frozen=True, slots=True)
class Number:
    """A parsed number. ``value`` is the quantity (a typed percent is already ÷100)."""

    value: Decimal
    typed: str
    unit: Unit = "plain"
    multiplier: Decimal = Decimal(1)

    @property
    def echo(self) -> str:
        """What was understood, unrounded, in the unit it was typed in, written as every message
        writes numbers (``0.01%``, ``1,500 USDC``, ``100,000``)."""
        if self.unit == "percent":
            return f"{money.number(self.value * _HUNDRED)}%"
        if self.unit == "usdc":
            return f"{money.number(self.value)} USDC"
        return money.number(self.value)

    @property
    def text(self) -> str:
        """The same without grouping (``1500 USDC``): what is stored and parsed again."""
        if self.unit == "percent":
            return f"{plain(self.value * _HUNDRED)}%"
        if self.unit == "usdc":
            return f"{plain(self.value)} USDC"
        return plain(self.value)


def plain(value: Decimal) -> str:
    """A decimal as digits, never an exponent, trailing zeros dropped (``1E+3`` → ``1000``)."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _shown(text: str) -> str:
    """The typed text quoted for a message, shortened so a long paste cannot flood the chat."""
    return repr(text if len(text) <= 24 else text[:21] + "...")


def _strip_unit(raw: str, *, suffixes: bool) -> tuple[str, Unit, Decimal]:
    """Split the units off the typed text: ``('1.5', 'usdc', 1000)`` for ``$1.5k``."""
    unit: Unit = "plain"
    low = raw.lower()
    if low.endswith("%"):
        return raw[:-1].strip(), "percent", Decimal(1)
    if low.startswith("$"):
        raw, unit = raw[1:].strip(), "usdc"
    elif low.endswith("$"):
        raw, unit = raw[:-1].strip(), "usdc"
    else:
        for word in _USDC_WORDS:
            if low.endswith(word) and len(low) > len(word) and not low[-len(word) - 1].isalpha():
                raw, unit = raw[: -len(word)].strip(), "usdc"
                break
    low = raw.lower()
    if suffixes and low[-1:] in _SUFFIX and len(low) > 1 and low[-2] != " ":
        return raw[:-1], unit, _SUFFIX[low[-1]]
    return raw, unit, Decimal(1)


def parse_number(
    text: str,
    *,
    what: str,
    example: str,
    percent: PercentMode = "no",
    usdc: bool = False,
    suffixes: bool = False,
    signed: bool = False,
    zero: bool = False,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> Number:
    """Parse one typed number, or raise :class:`NumberError` naming ``what`` and the reason.

    ``percent``: ``no`` refuses ``%``; ``allow`` takes ``0.05%`` or a plain fraction ``0.0005``;
    ``assume`` reads a bare number as a percent too (``5`` is 5 %); ``require`` insists on ``%``.
    ``usdc`` allows ``$``/``usdc``; ``suffixes`` allows ``k``/``m``; ``signed`` allows a minus;
    ``zero`` allows 0. ``low``/``high`` bound the value (inclusive) and the refusal states them,
    in the unit the user typed.
    """
    raw = text.strip()
    if not raw:
        raise NumberError(f"The {what} is missing.", example)
    if len(raw) > MAX_LENGTH:
        raise NumberError(
            f"The {what} {_shown(raw)} is too long for a number ({len(raw)} characters).", example
        )
    for ch in raw:
        if ch.isdigit() and not ("0" <= ch <= "9"):
            raise NumberError(
                f"The {what} {_shown(raw)} uses non-ASCII digits; type 0-9 with a dot.", example
            )
        if ch in "\u2212\u2013\u2014":  # minus sign, en dash, em dash: look-alikes of "-"
            raise NumberError(
                f"The {what} {_shown(raw)} has a dash that is not a minus; type '-'.", example
            )
        if unicodedata.category(ch).startswith(("C", "Z")) and ch != " ":
            raise NumberError(f"The {what} {_shown(raw)} has an invisible character.", example)
    if "," in raw:
        raise NumberError(
            f"The {what} {_shown(raw)} has a comma; write digits with a dot, e.g. 0.5 or 60000.",
            example,
        )
    low_text = raw.lower()
    if low_text.lstrip("+-$ ") in _WORDS or low_text in _WORDS:
        raise NumberError(f"The {what} {_shown(raw)} is not a number.", example)
    if _EXPONENT.match(low_text.lstrip("$ ")):
        raise NumberError(
            f"The {what} {_shown(raw)} is not a number I accept: no exponents; "
            "write the digits out, e.g. 100000.",
            example,
        )
    sign = ""
    body = raw
    if body[0] in "+-":
        sign, body = body[0], body[1:].strip()
    body, unit, multiplier = _strip_unit(body, suffixes=suffixes)
    if body and body[0] in "+-" and not sign:  # "$-5", "-5%" is handled above
        sign, body = body[0], body[1:].strip()
    if unit == "percent" and percent == "no":
        raise NumberError(f"The {what} is not a percentage; drop the '%'.", example)
    if unit == "usdc" and not usdc:
        raise NumberError(f"The {what} is not a USDC amount; drop the '$'/'usdc'.", example)
    if unit == "plain" and percent == "require":
        raise NumberError(f"Give the {what} as a percentage, e.g. 50%, not {_shown(raw)}.", example)
    if not body:
        raise NumberError(f"The {what} {_shown(raw)} has no digits.", example)
    if not _PLAIN.match(body):
        raise NumberError(f"The {what} {_shown(raw)} is not a number.", example)
    digits = sum(ch.isdigit() for ch in body)
    if digits > MAX_DIGITS:
        raise NumberError(
            f"The {what} {_shown(raw)} has {digits} digits; at most {MAX_DIGITS}.", example
        )
    value = Decimal(body) * multiplier
    if unit == "percent" or (unit == "plain" and percent == "assume"):
        unit = "percent"
        value = value / _HUNDRED
    if sign == "-":
        value = -value
    if value < 0 and not signed:
        raise NumberError(f"The {what} must be greater than zero, not {raw}.", example)
    if value == 0 and not zero:
        raise NumberError(f"The {what} must be greater than zero, not {raw}.", example)
    number = Number(value=value, typed=raw, unit=unit, multiplier=multiplier)
    if (low is not None and value < low) or (high is not None and value > high):
        raise NumberError(f"The {what} must be {bounds(low, high, unit)}.", example)
    return number


def show(value: Decimal, unit: Unit) -> str:
    """``value`` said back in ``unit`` (a fraction as ``0.05%``, a notional as ``200 USDC``)."""
    return Number(value=value, typed="", unit=unit).echo


def bounds(low: Decimal | None, high: Decimal | None, unit: Unit = "plain") -> str:
    """``between 1 and 35``, ``at least 0.5%``… — a range in the user's unit."""
    if low is not None and high is not None:
        return f"between {show(low, unit)} and {show(high, unit)}"
    if low is not None:
        return f"at least {show(low, unit)}"
    if high is not None:
        return f"at most {show(high, unit)}"
    return "a number"


# ---------------------------------------------------------------------------------- durations

_DURATION = re.compile(r"^(\d{1,6})\s*([a-z]*)$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNIT_WORDS = {
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "week": "w",
    "weeks": "w",
}
_NAMES = {"m": "minute", "h": "hour", "d": "day", "w": "week"}


@dataclass(frozen=True, slots=True)
class Duration:
    seconds: int
    typed: str

    @property
    def echo(self) -> str:
        return human_duration(self.seconds)


def human_duration(seconds: int) -> str:
    """``1209600`` → ``14 days``; ``5400`` → ``90 minutes``; the largest whole unit wins."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {_NAMES[unit]}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def parse_duration(
    text: str,
    *,
    what: str,
    example: str,
    units: str = "mhd",
    default_unit: str | None = None,
    low: int,
    high: int,
) -> Duration:
    """``15m``, ``1h``, ``14d``, ``2 days`` → seconds within ``[low, high]``.

    ``units`` are the letters allowed here; a bare number takes ``default_unit`` (refused when
    there is none). The refusal states the range in words (``between 1 day and 35 days``).
    """
    raw = text.strip()
    allowed = ", ".join(f"{_NAMES[u]}s ({u})" for u in units)
    for ch in raw:
        if ch.isdigit() and not ("0" <= ch <= "9"):
            raise NumberError(f"The {what} {_shown(raw)} uses non-ASCII digits; type 0-9.", example)
    m = _DURATION.match(raw.lower())
    if m is None:
        raise NumberError(
            f"The {what} {_shown(raw)} is not a duration; use whole {allowed}, "
            f"{bounds_duration(low, high)}.",
            example,
        )
    word = m.group(2)
    unit = _UNIT_WORDS.get(word) if word else default_unit
    if unit is None or unit not in units:
        raise NumberError(
            f"The {what} {_shown(raw)} needs a unit: {allowed}, {bounds_duration(low, high)}.",
            example,
        )
    seconds = int(m.group(1)) * _UNIT_SECONDS[unit]
    if not low <= seconds <= high:
        raise NumberError(f"The {what} must be {bounds_duration(low, high)}.", example)
    return Duration(seconds=seconds, typed=raw)


def bounds_duration(low: int, high: int) -> str:
    return f"between {human_duration(low)} and {human_duration(high)}"
