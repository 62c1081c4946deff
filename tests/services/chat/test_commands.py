"""The one reading of a command (pure), checked against the embedded Bot API's entities and
python-telegram-bot's own ``CommandHandler``."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Chat, Message, MessageEntity, Update, User
from telegram.ext import CommandHandler

from bot.localchat.entities import detect
from bot.services.access import Action, line_action, reads_only
from bot.services.chat.commands import CommandLine, read_command

BOT = "backpack_test_bot"


def entities(text: str) -> list[tuple[str, int, int]]:
    """The entities Telegram (here: the embedded Bot API) marks in a typed message."""
    return [(e["type"], e["offset"], e["length"]) for e in detect(text, [])]


def read(text: str) -> CommandLine | None:
    return read_command(text, entities(text), BOT)


@pytest.mark.parametrize(
    ("text", "name", "args", "ours"),
    [
        ("/cancel all", "cancel", ("all",), True),
        ("/cancel, all", "cancel", ("all",), True),
        ("/cancel,all", "cancel", (), True),
        ("/sl: BTC off", "sl", ("BTC", "off"), True),
        ("/buy. BTC 0.01", "buy", ("BTC", "0.01"), True),
        ("/balance.", "balance", (), True),
        ("/strategy; auto", "strategy", ("auto",), True),
        ("/strategy;auto", "strategy", (), True),
        ("/BUY BTC 1", "buy", ("BTC", "1"), True),
        (f"/cancel@{BOT} all", "cancel", ("all",), True),
        ("/cancel@Backpack_Test_Bot, all", "cancel", ("all",), True),
        ("/cancel@otherbot all", "cancel", ("all",), False),
        ("/cancel-all", "cancel", (), True),
    ],
)
def test_a_command_ends_where_telegram_ends_it(
    text: str, name: str, args: tuple[str, ...], ours: bool
) -> None:
    line = read(text)
    assert line is not None
    assert (line.name, line.args, line.ours) == (name, args, ours)


@pytest.mark.parametrize("text", ["hello", "buy BTC 0.01", " /buy BTC", "/", "/-1", "//buy", ""])
def test_no_command_without_its_entity_at_offset_0(text: str) -> None:
    assert read(text) is None


def test_only_the_first_entity_counts() -> None:
    assert read_command("see /buy", [("bot_command", 4, 4)], BOT) is None
    assert read_command("/buy", [("url", 0, 4), ("bot_command", 0, 4)], BOT) is None
    assert read_command("/buy x", [], BOT) is None  # a client that marked nothing: free text


def _ptb(text: str) -> tuple[str, list[str]] | None:
    """What python-telegram-bot's CommandHandler runs for ``text``: (command, args)."""
    bot: Any = type("B", (), {"username": BOT})()
    message = Message(
        1,
        None,  # type: ignore[arg-type]
        Chat(1, "private"),
        from_user=User(1, "u", False),
        text=text,
        entities=[MessageEntity(t, o, n) for t, o, n in entities(text)],
    )
    message.set_bot(bot)
    update = Update(1, message=message)
    for name in ("cancel", "sl", "buy", "balance", "strategy"):
        found = CommandHandler(name, lambda u, c: None).check_update(update)  # type: ignore[arg-type,return-value]
        if found:
            args, _ = found  # type: ignore[misc]
            return name, list(args)
    return None


@pytest.mark.parametrize(
    "text",
    [
        "/cancel, all",
        "/cancel,all",
        "/sl: BTC off",
        "/buy. BTC 0.01",
        "/balance.",
        "/strategy; auto",
        f"/strategy@{BOT}; auto",
        "/strategy@otherbot auto",
        "/cancel-all now",
        "hello /cancel all",
    ],
)
def test_the_reading_is_python_telegram_bots(text: str) -> None:
    line = read(text)
    ours = (line.name, list(line.args)) if line is not None and line.ours else None
    assert ours == _ptb(text)


def test_what_a_read_command_does() -> None:
    assert line_action(read("/cancel, all")) is Action.TRADE
    assert line_action(read("/strategy; auto")) is Action.STRATEGY
    assert line_action(read("/strategy;auto")) is Action.ACCOUNT
    assert line_action(read("/balance.")) is Action.ACCOUNT
    assert line_action(read("/cancel@otherbot all")) is None
    assert line_action(read("/nosuch x")) is None
    assert line_action(read("cancel all")) is None
    assert reads_only(read("/balance."))
    assert reads_only(read("/strategy;auto"))
    assert not reads_only(read("/cancel, all"))
    assert not reads_only(read("/alerts, clear"))
    assert not reads_only(read("/balance@otherbot"))


def test_the_fallback_suggests_from_the_command_as_read() -> None:
    from handlers.general import unknown_reply

    text = "/by, btc 0.01"
    assert "<code>/buy BTC 0.01</code>" in unknown_reply(text, read(text))
    assert "I don't know <code>/by</code>" in unknown_reply(text, read(text))
