"""Settings: every field documented in .env.example, friendly start-up errors."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.settings import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting_with_a_comment() -> None:
    text = (ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z0-9_]+)=", text, flags=re.M)
    assert sorted(names) == sorted(f.upper() for f in Settings.model_fields)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z0-9_]+=", line):
            assert lines[i - 1].startswith("#") or re.match(r"^[A-Z0-9_]+=", lines[i - 1]), line


def test_example_file_parses(tmp_path: Path) -> None:
    s = Settings(_env_file=ROOT / ".env.example")
    assert s.price_drift_tolerance == Decimal("0.005")
    assert s.trading_mode == "paper" and s.backpack_api_key is None


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"local_chat_host": "0.0.0.0"}, "LOCAL_CHAT_PASSWORD"),
        ({"local_chat": "true", "local_chat_host": "192.168.1.5"}, "LOCAL_CHAT_PASSWORD"),
        ({"telegram_bot_token": "1:x"}, "TELEGRAM_ALLOWED_USERS is empty"),
        (
            {"telegram_bot_token": "1:x", "telegram_allowed_users": "1", "trading_mode": "live"},
            "BACKPACK_API_KEY",
        ),
        (
            {
                "telegram_bot_token": "1:x",
                "telegram_allowed_users": "1",
                "trading_mode": "live",
                "exchange": "sim",
            },
            "EXCHANGE=sim",
        ),
        (
            {
                "telegram_bot_token": "1:x",
                "telegram_allowed_users": "1",
                "webhook_url": "https://example.org/hook",
                "webhook_secret": "not allowed!",
            },
            "WEBHOOK_SECRET may hold only",
        ),
    ],
)
def test_start_up_errors_say_what_to_do(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings(_env_file=None, **values).check()
    assert problem in str(err.value)


def test_users_and_percentages_parse() -> None:
    s = Settings(
        _env_file=None,
        telegram_allowed_users="12, 34;56",
        alert_hysteresis="0.5%",
    )
    assert s.telegram_allowed_users == [12, 34, 56]
    assert s.alert_hysteresis == Decimal("0.005")


def test_no_token_means_the_local_chat() -> None:
    s = Settings(_env_file=None)
    assert s.wants_local_chat and s.local_chat_on_loopback
    s.check()  # no token and no Telegram users needed
    assert (s.local_chat_host, s.local_chat_port) == ("127.0.0.1", 8080)
    forced = Settings(_env_file=None, telegram_bot_token="1:x", local_chat="true")
    assert forced.wants_local_chat
    exposed = Settings(
        _env_file=None, local_chat_host="0.0.0.0", local_chat_password="a twelve+ pw"
    )
    exposed.check()
    assert not Settings(_env_file=None, telegram_bot_token="1:x").wants_local_chat


def test_hedge_settings_are_checked_without_echoing_the_keys() -> None:
    base: dict[str, Any] = {"telegram_bot_token": "", "hedge_symbols": "BTC, eth;SOL"}
    s = Settings(_env_file=None, hedge_exchange=" BybiT ", **base)
    assert s.hedge and s.hedge_exchange == "bybit" and s.hedge_symbols == ["BTC", "eth", "SOL"]
    s.check()
    assert not Settings(_env_file=None, **base).hedge
    with pytest.raises(ConfigError, match="not a ccxt exchange id"):
        Settings(_env_file=None, hedge_exchange="nowhere", **base).check()
    secret = "not-json-super-secret-key"
    bad = Settings(_env_file=None, hedge_exchange="bybit", hedge_credentials=secret, **base)
    with pytest.raises(ConfigError, match="JSON object") as err:
        bad.check()
    assert secret not in str(err.value) and secret not in repr(bad)


def test_desk_settings_default_to_todays_behaviour_and_explain_bad_values() -> None:
    s = Settings(_env_file=None)
    assert (s.signup, s.max_desks, s.invite_ttl_seconds) == ("closed", 1000, 24 * 3600)
    assert (s.desk_max_order_notional, s.desk_orders_per_minute) == (Decimal(10000), 20)
    assert Settings(_env_file=None, signup=" Invite ").signup == "invite"
    with pytest.raises(ValueError, match="SIGNUP is closed"):
        Settings(_env_file=None, signup="everyone")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"max_desks": "-1"}, "MAX_DESKS"),
        ({"invite_ttl_hours": "0"}, "INVITE_TTL_HOURS"),
        ({"invite_ttl_hours": "721"}, "INVITE_TTL_HOURS"),
        ({"desk_max_order_notional": "0"}, "DESK_MAX_ORDER_NOTIONAL"),
        ({"desk_orders_per_minute": "0"}, "DESK_ORDERS_PER_MINUTE"),
    ]
    for values, problem in bad:
        with pytest.raises(ConfigError, match=problem):
            Settings(_env_file=None, **values).check()
