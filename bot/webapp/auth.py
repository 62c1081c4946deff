"""Telegram Mini App ``initData``: checked exactly as Telegram specifies, and signed for the
local chat's user (pure functions; the clock is handed in).

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app ::

    secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)
    hash = hex(HMAC_SHA256(key=secret_key, msg=data_check_string))

where ``data_check_string`` is every received field except ``hash``, sorted by key, written
``key=value`` and joined by ``\\n``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from bot.clock import Clock

#: How old a signed ``initData`` may be (``WEBAPP_MAX_AGE``'s default), in seconds.
DEFAULT_MAX_AGE = 3600


class InitDataError(ValueError):
    """``initData`` is missing, forged, or too old; the message says which (never a secret)."""


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """The Telegram user an ``initData`` was signed for."""

    id: int
    first_name: str
    auth_date: int


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")


def sign_fields(fields: dict[str, str], bot_token: str) -> str:
    """The hex ``hash`` Telegram puts next to ``fields``."""
    check = data_check_string(fields).encode()
    return hmac.new(secret_key(bot_token), check, hashlib.sha256).hexdigest()


def sign(user_id: int, first_name: str, bot_token: str, auth_date: int) -> str:
    """An ``initData`` query string for ``user_id``, as Telegram would hand it to the page
    (the embedded Bot API signs the local chat's user with this)."""
    user = json.dumps({"id": user_id, "first_name": first_name}, separators=(",", ":"))
    fields = {"auth_date": str(auth_date), "query_id": f"local-{auth_date}", "user": user}
    return urlencode({**fields, "hash": sign_fields(fields, bot_token)})


def validate(
    init_data: str, bot_token: str, clock: Clock, max_age: int = DEFAULT_MAX_AGE
) -> WebAppUser:
    """The user ``init_data`` was signed for; :class:`InitDataError` when it is missing,
    tampered with, signed with another token, or older than ``max_age`` seconds."""
    if not init_data:
        raise InitDataError("no initData")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("initData is not a query string") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("initData repeats a field")
    received = fields.get("hash", "")
    if not received:
        raise InitDataError("initData has no hash")
    expected = sign_fields(fields, bot_token)
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise InitDataError("initData's signature does not match")
    try:
        auth_date = int(fields["auth_date"])
        user = json.loads(fields["user"])
        uid = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise InitDataError("initData lacks auth_date or user") from None
    age = clock.time() - auth_date
    if age > max_age:
        raise InitDataError(f"initData is {int(age)} s old (at most {max_age} s)")
    if age < -60:  # signed in the future: a clock that far off is not Telegram's
        raise InitDataError("initData's auth_date is in the future")
    return WebAppUser(uid, str(user.get("first_name", "")), auth_date)
