"""The one money formatter: every price, size, fee, balance and PnL shown in chat comes from here.

* thousands grouping everywhere (``96,922.4``);
* prices to the market's tick, sizes to its step, when the caller knows them; otherwise the
  value's own decimals (wire values already sit on the tick) capped by magnitude;
* USDC to 2 decimals; amounts under 0.01 (a fee, a small uPnL) with 2 significant digits
  (``0.0089 USDC``) — one rule for every message;
* an explicit sign on PnL and funding (``+12.50 USDC``, ``-0.31 USDC``);
* rates always as percents with what they are per (``+0.0100% per interval``, ``0.0013% per
  hour``, ``10.95% APR``); a setting is written as typed, trimmed (``0.01% per interval``);
* a typed value said back grouped (``100,000``), so a reply and a listing write it alike;
* never an exponent, never a thousand-digit string: a value no market can have (a corrupt row,
  ``1E+999999``) is shown as ``(out of range)`` rather than breaking the message.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

#: Values with more integer digits than this, or smaller than 10^-MAX_DECIMALS, are not money.
MAX_INTEGER_DIGITS = 15
MAX_DECIMALS = 12
OUT_OF_RANGE = "(out of range)"
NONE = "—"
_CENT = Decimal("0.01")

#: A market's price tick by symbol when known (``MarketService.tick``), for messages that show
#: several prices of one market: each is written to the tick (``95,982.0`` beside ``101,799.1``).
Ticks = Callable[[str], Decimal | None]


def no_tick(symbol: str) -> Decimal | None:
    """The :data:`Ticks` of a caller that knows none: each price keeps its own decimals."""
    return None


def _sane(value: Decimal) -> bool:
    if not value.is_finite():
        return False
    return value == 0 or -MAX_DECIMALS - 1 <= value.adjusted() < MAX_INTEGER_DIGITS


def _places_of(unit: Decimal) -> int:
    """Decimals of a tick or step (``0.10`` → 1, ``5`` → 0)."""
    exp = unit.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _group(value: Decimal, places: int | None) -> str:
    """Grouped digits; ``places`` fixes the decimals (half-up), ``None`` trims trailing zeros."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        text = f"{value:,.{places}f}"
    else:
        text = f"{value:,f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def number(value: Decimal | None, places: int | None = None) -> str:
    """A plain grouped number (counts, bps, leverage); ``places`` fixes the decimals."""
    if value is None:
        return NONE
    if not _sane(value):
        return OUT_OF_RANGE
    return _group(value, places)


def _auto_places(value: Decimal) -> int:
    """Decimals for a price whose tick is unknown: enough for ~6 significant digits."""
    a = abs(value)
    if a >= 1000:
        return 2
    if a >= 1:
        return 4
    if a == 0:
        return 0
    return min(MAX_DECIMALS, -a.adjusted() + 5)


def price(value: Decimal | None, tick: Decimal | None = None) -> str:
    """A price, to the market's ``tick`` when given (``96922.4`` → ``96,922.4``)."""
    if value is None:
        return NONE
    if not _sane(value):
        return OUT_OF_RANGE
    if tick is not None and tick > 0:
        return _group(value, _places_of(tick))
    places = _auto_places(value)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return _group(rounded, None)


def size(value: Decimal | None, step: Decimal | None = None) -> str:
    """A quantity of an asset, rounded to the market's ``step`` when given, else as it is
    (≤ 12 dp); trailing zeros dropped either way (``0.01 BTC``, not ``0.01000 BTC``)."""
    if value is None:
        return NONE
    if not _sane(value):
        return OUT_OF_RANGE
    if step is not None and step > 0:
        places = _places_of(step)
        return _group(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), None)
    return _group(value.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=ROUND_HALF_UP), None)


def usdc(value: Decimal | None, *, unit: bool = True) -> str:
    """A USDC amount: 2 decimals; below 0.01 (a fee), 2 significant digits."""
    if value is None:
        return NONE
    if not _sane(value):
        return OUT_OF_RANGE
    small = value != 0 and abs(value) < _CENT
    places = min(MAX_DECIMALS, -value.adjusted() + 1) if small else 2
    if small and abs(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)) >= _CENT:
        places = 2  # 0.00999 rounds up to a cent: 0.01, not 0.0100
    text = _group(value, places)
    return f"{text} USDC" if unit else text


def signed_usdc(value: Decimal | None) -> str:
    """PnL and funding: ``+12.50 USDC``, ``-0.31 USDC``, ``0.00 USDC``."""
    if value is None:
        return NONE
    text = usdc(value)
    return f"+{text}" if value > 0 and _sane(value) else text


def amount(value: Decimal | None, asset: str) -> str:
    """A balance in ``asset``: USDC as money, other assets as sizes (``0.5 BTC``)."""
    if asset.upper() in ("USDC", "USD"):
        return usdc(value)
    return f"{size(value)} {asset}"


def percent(fraction: Decimal | None, places: int = 2) -> str:
    """A fraction as a percentage (``0.0125`` → ``1.25%``)."""
    if fraction is None:
        return NONE
    if not _sane(fraction):
        return OUT_OF_RANGE
    return f"{_group(fraction * 100, places)}%"


def signed_percent(fraction: Decimal | None, places: int = 2) -> str:
    """A change with its sign (``+1.25%``)."""
    if fraction is None:
        return NONE
    text = percent(fraction, places)
    return f"+{text}" if fraction > 0 and _sane(fraction) else text


def rate(fraction: Decimal | None, per: str | None = None) -> str:
    """A funding rate, signed, 4 decimals in percent (``+0.0100%``); ``per`` labels it
    (``rate(x, "interval")`` → ``+0.0100% per interval``). Never ``%/h``: a chat client shows
    ``/h`` as a command."""
    text = signed_percent(fraction, 4)
    return f"{text} per {per}" if per and fraction is not None else text


def setting_rate(fraction: Decimal | None, per: str | None = None) -> str:
    """A rate setting or threshold, unsigned, trimmed (``0.0001`` → ``0.01% per interval``)."""
    if fraction is None:
        return NONE
    if not _sane(fraction):
        return OUT_OF_RANGE
    text = f"{_group(fraction * 100, None)}%"
    return f"{text} per {per}" if per else text


def typed(value: Decimal | None) -> str:
    """A value the user typed, said back unrounded but grouped (``100000`` → ``100,000``)."""
    return number(value)
