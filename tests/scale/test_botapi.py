"""The scale bench's recording Bot API: what python-telegram-bot gets back, and Telegram's limits
measured from the record (the busiest second, the gap before a notice, a group's minute)."""

from __future__ import annotations

import pytest
from telegram import Bot

from bench.scale.botapi import BotApiRecorder, Call

TOKEN = "7000002:" + "T" * 35


def _call(at: float, chat: int, text: str = "hi") -> Call:
    return Call(at, "sendmessage", chat, text, None, {})


async def test_the_bot_talks_to_it_and_every_call_is_recorded() -> None:
    async with BotApiRecorder(TOKEN) as api:
        bot = Bot(TOKEN, base_url=api.base_url)
        async with bot:
            waiting = api.wait(42, lambda c: c.method == "sendmessage")
            sent = await bot.send_message(42, "hello")
            await bot.edit_message_text("hello again", chat_id=42, message_id=sent.message_id)
            assert await bot.answer_callback_query("q1", text="Filled")
        assert (await waiting).text == "hello"
    assert [c.method for c in api.calls if c.chat_id == 42] == ["sendmessage", "editmessagetext"]
    assert api.by_chat[42][1].message_id == sent.message_id
    assert [c.text for c in api.answers["q1"]] == ["Filled"]
    assert [c.text for c in api.messages()] == ["hello"]  # edits and answers are not messages


def test_limits_are_measured_from_the_record() -> None:
    api = BotApiRecorder(TOKEN)
    api.calls += [_call(i / 31, 1000 + i) for i in range(31)]  # 31 chats within one second
    api.calls += [_call(5.0, 7), _call(5.4, 7, "🚨 alert"), _call(9.0, 7), _call(9.1, 7, "reply")]
    api.calls += [_call(20.0 + i, -100) for i in range(21)]  # 21 to a group within a minute
    api.calls.sort(key=lambda c: c.at)
    lim = api.limits(0.0, lambda c: c.text.startswith("🚨"))
    assert lim.max_per_second == 31
    assert lim.min_private_gap == pytest.approx(0.4)  # the reply 0.1 s after is no notice
    assert lim.closest is not None and lim.closest[1].text == "🚨 alert"
    assert lim.max_group_per_minute == 21
    assert api.limits(0.0).min_private_gap == pytest.approx(0.1)
