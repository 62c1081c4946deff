"""Roles and group rules (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.services.access import (
    COMMANDS,
    Action,
    Role,
    callback_action,
    check,
    check_callback,
    check_command,
    command_action,
    may,
    parse_users,
)
from bot.settings import Settings

PRIVATE: dict[str, Any] = {"chat_type": "private", "chat_id": 1001}
GROUP: dict[str, Any] = {"chat_type": "group", "chat_id": -100}


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("viewer", Action.MARKET, True),
        ("viewer", Action.ACCOUNT, True),
        ("viewer", Action.ALERTS, True),
        ("viewer", Action.GENERAL, True),
        ("viewer", Action.TRADE, False),
        ("viewer", Action.STRATEGY, False),
        ("trader", Action.TRADE, True),
        ("trader", Action.ACCOUNT, True),
        ("trader", Action.STRATEGY, False),
        ("owner", Action.STRATEGY, True),
        ("owner", Action.TRADE, True),
    ],
)
def test_may(role: Role, action: Action, allowed: bool) -> None:
    assert may(role, action) is allowed


@pytest.mark.parametrize(
    ("command", "args", "action"),
    [
        ("/price", [], Action.MARKET),
        ("/balance", [], Action.ACCOUNT),
        ("/buy", ["BTC", "1"], Action.TRADE),
        ("/Close@backpack_test_bot", [], Action.TRADE),
        ("/strategy", [], Action.ACCOUNT),
        ("/strategy", ["auto"], Action.STRATEGY),
        ("/strategy", ["set", "entry_rate", "1%"], Action.STRATEGY),
        ("/alert", ["BTC", ">", "5"], Action.ALERTS),
        ("/backtest", ["BTC"], Action.MARKET),
        ("/whoami", [], Action.GENERAL),
        ("/nope", [], None),
    ],
)
def test_command_action(command: str, args: list[str], action: Action | None) -> None:
    assert command_action(command, args) == action


@pytest.mark.parametrize(
    ("data", "action"),
    [
        ("tc:abc", Action.TRADE),
        ("tx:abc", Action.TRADE),
        ("close:BTC_USDC_PERP", Action.TRADE),
        ("cxl:all", Action.TRADE),
        ("stg:ok:tok", Action.TRADE),
        ("al:del:3", Action.ALERTS),
        ("al:", Action.ALERTS),
        ("zz:1", None),
        ("", None),
    ],
)
def test_callback_action(data: str, action: Action | None) -> None:
    assert callback_action(data) == action


def test_viewers_cannot_trade_or_tap_confirm() -> None:
    refusal = check_command("viewer", "/buy", ["BTC", "1"], **PRIVATE)
    assert refusal is not None and "viewer" in refusal.text and "trade" in refusal.text
    assert check_callback("viewer", "tc:token", **PRIVATE) is not None
    assert check_callback("viewer", "al:del:1", **PRIVATE) is None
    assert check_command("viewer", "/balance", **PRIVATE) is None


def test_traders_cannot_change_the_strategy() -> None:
    refusal = check_command("trader", "/strategy", ["auto"], **PRIVATE)
    assert refusal is not None and "strategy" in refusal.text
    assert check_command("trader", "/strategy", [], **PRIVATE) is None
    assert check_command("owner", "/strategy", ["auto"], **PRIVATE) is None


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        ("/balance", True),
        ("/positions", True),
        ("/orders", True),
        ("/pnl", True),
        ("/account", True),
        ("/buy", True),
        ("/close", True),
        ("/price", False),
        ("/funding", False),
        ("/chart", False),
        ("/alert", False),
        ("/help", False),
    ],
)
def test_groups_get_market_data_only(command: str, refused: bool) -> None:
    refusal = check_command("owner", command, **GROUP)
    assert (refusal is not None) is refused
    if refusal is not None:
        assert "use a private chat with me" in refusal.text
    assert check_command("owner", command, **GROUP, allowed_groups=[-100]) is None


def test_strangers_are_refused() -> None:
    refusal = check(None, Action.MARKET, **PRIVATE)
    assert refusal is not None and "private" in refusal.short


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        ("1001,1002", {1001: "owner", 1002: "trader"}),
        ("1001", {1001: "owner"}),
        ("1001:viewer, 1002", {1001: "viewer", 1002: "trader"}),
        ("1001:owner;1002:Trader;1003:viewer", {1001: "owner", 1002: "trader", 1003: "viewer"}),
        ("", {}),
    ],
)
def test_parse_users(text: str, roles: dict[int, Role]) -> None:
    assert parse_users(text) == roles


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1001:admin", "unknown role 'admin'"),
        ("alice", "not a numeric Telegram user id"),
        ("1001,1001:viewer", "listed twice"),
    ],
)
def test_parse_users_refuses(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_users(text)


def test_settings_keep_the_ids_and_expose_the_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_ALLOWED_USERS", "1001:owner,1002,1003:viewer")
    monkeypatch.setenv("TELEGRAM_ALLOWED_GROUPS", "-1001234, -42")
    s = Settings(_env_file=None)
    assert s.telegram_allowed_users == [1001, 1002, 1003]
    assert dict(s.roles) == {1001: "owner", 1002: "trader", 1003: "viewer"}
    assert s.role_of(1003) == "viewer" and s.role_of(7) is None
    assert s.telegram_allowed_groups == [-1001234, -42]


def test_settings_from_a_list_of_ids() -> None:
    s = Settings(_env_file=None, telegram_allowed_users=[1001, 1002])
    assert s.role_of(1001) == "owner" and s.role_of(1002) == "trader"


def test_every_command_of_the_bot_has_a_permission() -> None:
    """A command missing from access.COMMANDS would pass the gate unchecked."""
    from telegram.ext import CommandHandler

    from bot.app import build_application
    from handlers import general

    settings = Settings(_env_file=None, telegram_bot_token="1:x", telegram_allowed_users="1:owner")
    app = build_application(settings)
    handlers = [h for group in app.handlers.values() for h in group]
    handlers += general.fallback_handlers()
    names = {c for h in handlers if isinstance(h, CommandHandler) for c in h.commands}
    assert names == set(COMMANDS)
