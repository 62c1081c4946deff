"""Shared rendering: HTML escaping, number formatting, message splitting.

Money becomes text only in ``bot/render``.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

TELEGRAM_LIMIT = 4096
SAFE_LIMIT = 4000


def esc(value: object) -> str:
    """Escape any dynamic value for Telegram's HTML parse mode."""
    return html.escape(str(value), quote=False)


def num(value: Decimal | None, places: int | None = None) -> str:
    """A decimal without exponent or trailing zeros; ``places`` fixes the decimals."""
    if value is None:
        return "—"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return f"{value:,.{places}f}"
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    head, _, tail = text.partition(".")
    sign = "-" if head.startswith("-") else ""
    head = f"{int(head.lstrip('-') or 0):,}"
    return f"{sign}{head}.{tail}" if tail else f"{sign}{head}"


def usd(value: Decimal | None) -> str:
    """A USDC amount with two decimals (or more for tiny amounts)."""
    if value is None:
        return "—"
    if value != 0 and abs(value) < Decimal("0.01"):
        return f"{num(value)} USDC"
    return f"{num(value, 2)} USDC"


def signed_usd(value: Decimal) -> str:
    return ("+" if value > 0 else "") + usd(value)


def pct(fraction: Decimal | None, places: int = 2) -> str:
    """A fraction as a percentage (0.0125 → 1.25 %)."""
    if fraction is None:
        return "—"
    return f"{num(fraction * 100, places)}%"


def signed_pct(fraction: Decimal, places: int = 2) -> str:
    return ("+" if fraction > 0 else "") + pct(fraction, places)


def rate_pct(fraction: Decimal) -> str:
    """A funding rate per interval: four decimals in percent (0.0000125 → 0.0013 %)."""
    return ("+" if fraction > 0 else "") + f"{num(fraction * 100, 4)}%"


def countdown(delta: timedelta) -> str:
    secs = max(0, int(delta.total_seconds()))
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def hhmm(t: datetime) -> str:
    return t.strftime("%H:%M UTC")


def mode_badge(mode: str) -> str:
    return "🧪 PAPER" if mode == "paper" else "🔴 LIVE"


def split_message(text: str, limit: int = SAFE_LIMIT) -> list[str]:
    """Split on line boundaries below Telegram's 4096-character limit."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for raw in text.split("\n"):
        line = raw
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
