"""Recognise a secret pasted into a chat: pure functions of the text.

Three shapes, the ones a trader has at hand when setting the bot up:

* a base64 ed25519 secret (Backpack's API secret): 32 bytes, 44 characters ending in ``=``;
* a private key in hex: ``0x`` and 64 hex digits, or 64 hex digits alone (an EVM wallet key,
  Hyperliquid's API wallet key);
* an API-secret-like token: 32 or more characters of letters, digits and ``+=_-`` with upper
  and lower case letters and digits, as varied as random text (Shannon entropy of at least 4 bits
  per character; words, identifiers, symbols, order ids and wallet addresses are not), or 32
  upper-case hex digits.

A web address is never a secret here (its path may be long and random, and it is not a key).
:func:`scrub` blanks the same shapes from a text, for the logs.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_EDGE_L = r"(?<![A-Za-z0-9+/=_-])"
_EDGE_R = r"(?![A-Za-z0-9+/=_-])"
_BASE64_32 = re.compile(_EDGE_L + r"[A-Za-z0-9+/]{43}=" + _EDGE_R)
_HEX_KEY = re.compile(_EDGE_L + r"(?:0[xX])?[0-9a-fA-F]{64}" + _EDGE_R)
#: No ``/`` inside: a file path's parts are not secrets (an ed25519 secret with ``/`` in it is
#: caught by its exact shape above).
_TOKEN = re.compile(_EDGE_L + r"[A-Za-z0-9+=_-]{32,}" + _EDGE_R)
_UPPER_HEX = re.compile(r"[0-9A-F]{32}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+|\bt\.me/\S+")

#: The least entropy, in bits per character, of a token taken for a secret.
MIN_ENTROPY = 4.0

#: The kinds :func:`spot` tells apart, as the chat names them.
BASE64_SECRET = "a secret key (base64)"  # noqa: S105 - a name, not a password
PRIVATE_KEY = "a private key"
API_SECRET = "an API secret"  # noqa: S105 - a name, not a password


def entropy(token: str) -> float:
    """Shannon entropy of ``token``'s characters, in bits per character."""
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random_like(token: str) -> bool:
    """Random-looking: upper and lower case letters and digits, all varied (an identifier in
    snake_case or a word with a number is not), or 32 upper-case hex digits (OKX's secrets)."""
    if _UPPER_HEX.fullmatch(token):
        return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    mixed = (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )
    return mixed and entropy(token) >= MIN_ENTROPY


def spot(text: str | None) -> str | None:
    """What kind of secret ``text`` holds (:data:`BASE64_SECRET`, :data:`PRIVATE_KEY`,
    :data:`API_SECRET`), or ``None``."""
    if not text:
        return None
    bare = _URL.sub(" ", text)
    if _BASE64_32.search(bare):
        return BASE64_SECRET
    if _HEX_KEY.search(bare):
        return PRIVATE_KEY
    if any(_random_like(m.group()) for m in _TOKEN.finditer(bare)):
        return API_SECRET
    return None


def scrub(text: str, label: str = "<secret>") -> str:
    """``text`` with everything :func:`spot` would call a secret replaced by ``label``
    (web addresses are not touched; tokens inside one are not secrets here)."""
    if len(text) < 32:
        return text
    pieces: list[str] = []
    last = 0
    for url in _URL.finditer(text):
        pieces.append(_scrub_plain(text[last : url.start()], label))
        pieces.append(url.group())
        last = url.end()
    pieces.append(_scrub_plain(text[last:], label))
    return "".join(pieces)


def _scrub_plain(text: str, label: str) -> str:
    text = _BASE64_32.sub(label, text)
    text = _HEX_KEY.sub(label, text)
    return _TOKEN.sub(lambda m: label if _random_like(m.group()) else m.group(), text)
