"""Shared rendering: HTML escaping, number formatting, message splitting.

Money becomes text only in ``bot/render``.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from decimal import Decimal

from bot.render import money
from bot.services.access import COMMANDS

TELEGRAM_LIMIT = 4096
SAFE_LIMIT = 4000


def esc(value: object) -> str:
    """Escape any dynamic value for Telegram's HTML parse mode."""
    return html.escape(str(value), quote=False)


#: What a chat client turns into a tappable command (Telegram's rule, as bot/localchat has it).
_SLASH_WORD = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


def safe(value: object) -> str:
    """:func:`esc`, and any ``/word`` in it that is not one of our commands in ``<code>`` — an
    echoed ``/foo`` or ``<b>`` must not become a command one tap sends."""
    text = str(value)
    out: list[str] = []
    last = 0
    for m in _SLASH_WORD.finditer(text):
        word = m.group(0)
        if word[1:].split("@", 1)[0].lower() in COMMANDS:
            continue
        out += [esc(text[last : m.start()]), f"<code>{esc(word)}</code>"]
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


# The names below predate bot.render.money and stay for existing callers; they are the same
# formatter, so every number in chat is written one way.


def num(value: Decimal | None, places: int | None = None) -> str:
    """A grouped decimal without exponent or trailing zeros; ``places`` fixes the decimals."""
    return money.number(value, places)


def usd(value: Decimal | None) -> str:
    """A USDC amount (:func:`bot.render.money.usdc`)."""
    return money.usdc(value)


def signed_usd(value: Decimal) -> str:
    return money.signed_usdc(value)


def pct(fraction: Decimal | None, places: int = 2) -> str:
    """A fraction as a percentage (0.0125 → 1.25%)."""
    return money.percent(fraction, places)


def signed_pct(fraction: Decimal, places: int = 2) -> str:
    return money.signed_percent(fraction, places)


def rate_pct(fraction: Decimal) -> str:
    """A funding rate per interval: four decimals in percent (0.0000125 → +0.0013%)."""
    return money.rate(fraction)


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
