"""The closest command to something the bot did not understand — pure, for the fallback reply.

``/bal`` → ``/balance``; ``buy btc 0.01`` → ``/buy BTC 0.01``; ``/pirce BTC`` → ``/price BTC``.

One slip of the thumb — a swapped pair of letters, one letter too many, too few or wrong — is
always forgiven (``/byu`` → ``/buy``, ``/poistions`` → ``/positions``): that is a
Damerau-Levenshtein distance of 1 (optimal string alignment). A ratio like difflib's misses
short words, where one swap changes most of the word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

from bot.services.access import COMMANDS

#: Commands whose first argument is a market, which the suggestion writes in capitals.
_MARKET_FIRST = frozenset(
    {"buy", "sell", "close", "price", "funding", "book", "alert", "chart", "backtest"}
)
_MARKET = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
#: Short forms people type that a fuzzy match would not find.
_ALIASES = {
    "bal": "balance",
    "pos": "positions",
    "position": "positions",
    "order": "orders",
    "long": "buy",
    "short": "sell",
    "px": "price",
    "quote": "price",
    "stop": "strategy",
    "settings": "notify",
    "balances": "balance",
}
MAX_SUGGESTION = 80
#: Words shorter than this are not typo-matched: ``/al`` is one letter from ``/sl`` but meant
#: ``/alert`` more likely than not.
_MIN_TYPO_LENGTH = 3


def osa_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two adjacent letters) turning ``a`` into ``b``.

    The optimal-string-alignment variant of Damerau-Levenshtein: no substring is edited twice,
    which is all a typo needs.
    """
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[len(b)]


def _one_slip(word: str, commands: Collection[str]) -> str | None:
    """The command one edit away from ``word``; of several, a same-length one (a swap or a wrong
    letter) first, then the one difflib finds most alike."""
    near = [c for c in commands if osa_distance(word, c) == 1]
    if len(near) <= 1:
        return near[0] if near else None
    same = sorted(c for c in near if len(c) == len(word)) or sorted(near)
    best = difflib.get_close_matches(word, same, n=1, cutoff=0)
    return best[0] if best else same[0]


def closest_command(word: str, commands: Collection[str] = COMMANDS) -> str | None:
    """The known command ``word`` most likely meant, or ``None`` when nothing is close."""
    w = word.lower().lstrip("/").split("@", 1)[0]
    if not w or len(w) > 30:
        return None
    if w in commands:
        return w
    if w in _ALIASES and _ALIASES[w] in commands:
        return _ALIASES[w]
    if len(w) >= _MIN_TYPO_LENGTH and (slip := _one_slip(w, commands)) is not None:
        return slip
    prefixed = sorted(c for c in commands if c.startswith(w))
    if len(w) >= 2 and len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(w, list(commands), n=1, cutoff=0.75)
    return close[0] if close else None


def suggest(text: str, commands: Collection[str] = COMMANDS) -> str | None:
    """The command line to suggest for ``text`` (``/buy BTC 0.01``), or ``None``.

    Free text counts only when its first word is itself a command or a near miss of one, so
    "hello bot" gets no suggestion while "buy btc 0.01" does.
    """
    words = text.split()
    if not words:
        return None
    first = words[0]
    is_command = first.startswith("/")
    name = closest_command(first, commands)
    if name is None:
        return None
    if not is_command and first.lower() != name and first.lower() not in _ALIASES:
        # free text must name the command exactly (or an alias): "hello" is not "help"
        return None
    args = words[1:]
    if args and name in _MARKET_FIRST and _MARKET.match(args[0].lower()):
        args = [args[0].upper(), *args[1:]]
    line = " ".join([f"/{name}", *args])
    if len(line) > MAX_SUGGESTION:
        line = line[: MAX_SUGGESTION - 1] + "…"
    return line
