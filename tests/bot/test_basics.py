"""Start-up, the gate, market commands and friendly errors, through the fake Bot API."""

from __future__ import annotations

import logging

import pytest

from tests.bot.conftest import ALICE, MALLORY, TOKEN, BotRunner
from tests.fakes.telegram import FakeTelegram


async def test_start_publishes_commands_and_answers(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    names = {c["command"] for c in tg.commands}
    assert {"help", "price", "funding", "book", "buy", "sell", "close"} <= names
    reply = await tg.ask(ALICE, "/start")
    assert "PAPER" in reply.text.upper()
    assert "/help" in reply.text
    manual = await tg.ask(ALICE, "/help")
    assert "/buy" in manual.text


async def test_price_funding_book(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/price btc eth", "ETH")
    assert "BTC_USDC_PERP" in reply.text
    reply = await tg.ask(ALICE, "/funding BTC", "APR")
    reply = await tg.ask(ALICE, "/funding")
    assert reply.text.count("_PERP") >= 10
    reply = await tg.ask(ALICE, "/book SOL", "spread")
    assert "SOL_USDC_PERP" in reply.text


async def test_unknown_symbol_is_a_friendly_error(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/price NOPE")
    assert "NOPE" in reply.text
    assert "Traceback" not in reply.text


async def test_unauthorised_user_gets_one_refusal_and_nothing_else(
    paper_bot: BotRunner, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    first = await tg.ask(MALLORY, "/price BTC")
    assert "private" in first.text
    mark = len(tg.messages)
    await tg.send(MALLORY, "/price BTC")
    await tg.send(MALLORY, "/buy BTC 0.01")
    await tg.ask(ALICE, "/help")  # processed after Mallory's messages
    assert [m for m in tg.messages[mark:] if m.chat_id == MALLORY] == []
    assert str(MALLORY) in caplog.text


async def test_token_never_in_logs(
    tg: FakeTelegram, tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    from pathlib import Path

    from tests.bot.conftest import make_settings

    caplog.set_level(logging.DEBUG)
    assert isinstance(tmp_path, Path)
    runner = BotRunner(make_settings(tg, tmp_path))
    await runner.start()
    try:
        await tg.ask(ALICE, "/price BTC", "BTC")
    finally:
        await runner.stop()
    assert "getUpdates" in caplog.text or "sendMessage" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
