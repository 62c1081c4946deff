"""A fault of the bot itself reaches the user as a specific sentence, never "something went wrong".

Handlers that raise are added to the running bot ahead of every other group, so the real
``guarded`` wrapper and the application's ``on_error`` answer them over the fake Bot API.
"""

from __future__ import annotations

import logging
import re

import pytest
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.common import Context, guarded
from tests.bot.conftest import ALICE, BotRunner
from tests.fakes.telegram import FakeTelegram, Sent


async def crash(update: Update, context: Context) -> None:
    raise RuntimeError("a bug, not the user's input")


@pytest.fixture
def faulty(paper_bot: BotRunner) -> BotRunner:
    paper_bot.app.add_handler(CommandHandler("boom", guarded(crash)), group=-3)
    paper_bot.app.add_handler(CommandHandler("bang", crash), group=-3)
    paper_bot.app.add_handler(CallbackQueryHandler(guarded(crash), pattern="^boom"), group=-3)
    return paper_bot


def _ref(text: str) -> str:
    found = re.search(r"\bref(?:erence)? (?:<code>)?([0-9a-f]{6})\b", text)
    assert found is not None, text
    return found.group(1)


async def test_a_command_that_crashes_is_named_with_a_log_reference(
    faulty: BotRunner, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    for command, logged in (
        ("/boom BTC", "crash crashed (ref "),
        ("/bang", "unhandled error (ref "),
    ):
        reply = await tg.ask(ALICE, command, "fault in the bot")
        name = command.split()[0]
        assert f"<code>{name}</code> failed because of a fault in the bot" in reply.text
        ref = _ref(reply.text)
        assert any(logged + ref in r.getMessage() for r in caplog.records), ref


async def test_a_button_that_crashes_answers_the_tap(
    faulty: BotRunner, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    message = Sent(chat_id=ALICE, message_id=1, text="an old message")
    answer = await tg.answer_to(await tg.tap(ALICE, message, "boom:1"))
    assert "That button failed: a fault in the bot" in answer.text
    assert any(f"(ref {_ref(answer.text)})" in r.getMessage() for r in caplog.records)
    assert not any("something went wrong" in m.text for m in tg.messages)
