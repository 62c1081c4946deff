"""``initData`` checking against Telegram's documented algorithm, with fixed vectors."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, quote

import pytest

from bot.clock import FakeClock
from bot.webapp.auth import InitDataError, sign, validate

#: aiogram's published vector (tests/test_utils/test_web_app.py): bot token ``42:TEST``.
AIOGRAM_TOKEN = "42:TEST"
AIOGRAM = (
    "auth_date=1650385342"
    "&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D"
    "&query_id=test"
    "&hash=46d2ea5e32911ec8d30999b56247654460c0d20949b6277af519e76271182803"
)
SIGNED_AT = 1650385342
TOKEN = "123456:ABC-our-own-token"
USER = '{"id":1001,"first_name":"Alice"}'


def by_hand(fields: dict[str, str], token: str) -> str:
    """The documented algorithm written out independently of the module under test."""
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    digest = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items())
    return f"{query}&hash={digest}"


def at(t: float) -> FakeClock:
    return FakeClock(t)


def test_a_published_vector_is_valid() -> None:
    user = validate(AIOGRAM, AIOGRAM_TOKEN, at(SIGNED_AT + 10))
    assert (user.id, user.first_name, user.auth_date) == (42, "Test", SIGNED_AT)


def test_a_vector_computed_by_hand_is_valid_and_matches_the_signer() -> None:
    fields = {"auth_date": "1760000000", "query_id": "local-1760000000", "user": USER}
    data = by_hand(fields, TOKEN)
    assert validate(data, TOKEN, at(1_760_000_100)).id == 1001
    ours = dict(parse_qsl(sign(1001, "Alice", TOKEN, 1_760_000_000)))
    assert ours["hash"] == dict(parse_qsl(data))["hash"]


def test_a_tampered_field_is_refused() -> None:
    forged = AIOGRAM.replace("%22id%22%3A42", "%22id%22%3A43")
    with pytest.raises(InitDataError, match="signature"):
        validate(forged, AIOGRAM_TOKEN, at(SIGNED_AT))
    added = AIOGRAM + "&start_param=x"
    with pytest.raises(InitDataError, match="signature"):
        validate(added, AIOGRAM_TOKEN, at(SIGNED_AT))


def test_another_bots_token_is_refused() -> None:
    with pytest.raises(InitDataError, match="signature"):
        validate(AIOGRAM, "42:INVALID", at(SIGNED_AT))


def test_stale_auth_date_is_refused_after_max_age() -> None:
    assert validate(AIOGRAM, AIOGRAM_TOKEN, at(SIGNED_AT + 3600)).id == 42
    with pytest.raises(InitDataError, match="old"):
        validate(AIOGRAM, AIOGRAM_TOKEN, at(SIGNED_AT + 3601))
    with pytest.raises(InitDataError, match="old"):
        validate(AIOGRAM, AIOGRAM_TOKEN, at(SIGNED_AT + 61), max_age=60)


@pytest.mark.parametrize(
    "data",
    [
        "",
        AIOGRAM.split("&hash=", maxsplit=1)[0],
        AIOGRAM.split("&hash=", maxsplit=1)[0] + "&hash=",
        "user=%7B%22id%22%3A42%7D&query_id=test&hash=%C3%A9%C3%A9",
        "test&foo=bar=baz",
    ],
)
def test_missing_or_broken_hash_is_refused(data: str) -> None:
    with pytest.raises(InitDataError):
        validate(data, AIOGRAM_TOKEN, at(SIGNED_AT))


def test_a_repeated_field_is_refused() -> None:
    with pytest.raises(InitDataError, match="repeats"):
        validate(AIOGRAM + "&auth_date=1", AIOGRAM_TOKEN, at(SIGNED_AT))


def test_webapp_url_must_be_https() -> None:
    from bot.settings import ConfigError, Settings

    ok = Settings(_env_file=None, local_chat=True, webapp_url="https://dash.example.org/")
    ok.check()
    with pytest.raises(ConfigError, match="https"):
        Settings(_env_file=None, local_chat=True, webapp_url="http://dash.example.org/").check()
