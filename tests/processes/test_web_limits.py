"""Web processes' replies and the outbox's senders keep Telegram's limits together (real
PostgreSQL, a Bot API over HTTP that records when each message reached it): two
:class:`~jobs.ratelimit.SharedRateLimiter` (each with its own engine and ``Bot``, as two web
processes have) answering a burst to many chats while a sender drains notes to the same chats —
never more than 30 in any second, a private chat's messages at least a second apart, a group's
3 s; a ``retry_after`` pauses the chat where the senders see it, the reply goes once more after
it, a second refusal is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.clock import SystemClock
from bot.processes.web import WebProcess
from bot.services.notices.outbox import Note
from bot.storage.db import Database
from jobs.ratelimit import SharedRateLimiter, counted_chat
from tests.bot.conftest import TOKEN, make_settings
from tests.fakes.telegram import FakeTelegram
from tests.services.notices.botapi import BotApi, min_gap, most_in_window
from tests.services.notices.tablekit import senders, table

SLACK = 0.005  # arrival clocks and the database's milliseconds


async def _noted(_rest: str, _message_id: int) -> None:
    return None


HOOKS = {"n": _noted}  # a note with a hook never merges with the next


@pytest.fixture
async def db_url(pg_url: str) -> str:
    db = Database(pg_url)
    await db.start()  # migrated
    await db.close()
    return pg_url


@pytest.fixture
async def api() -> AsyncIterator[BotApi]:
    async with BotApi() as fake:
        yield fake


@contextlib.asynccontextmanager
async def web_bots(url: str, api_url: str, n: int) -> AsyncIterator[list[ExtBot[None]]]:
    """``n`` bots as ``n`` web processes have them: each its own engine and limiter."""
    async with contextlib.AsyncExitStack() as stack:
        bots: list[ExtBot[None]] = []
        for _ in range(n):
            db = Database(url)
            stack.push_async_callback(db.close)
            limiter = SharedRateLimiter()
            limiter.bind(db, SystemClock())
            request = HTTPXRequest(connection_pool_size=128)
            bot = ExtBot(TOKEN, base_url=api_url, request=request, rate_limiter=limiter)
            await stack.enter_async_context(bot)
            bots.append(bot)
        yield bots


def test_what_counts_as_a_message() -> None:
    assert counted_chat("sendMessage", {"chat_id": 5, "text": "x"}) == (True, 5)
    assert counted_chat("editMessageText", {"chat_id": "-7", "text": "x"}) == (True, -7)
    assert counted_chat("sendPhoto", {"chat_id": "@news"}) == (True, None)
    assert counted_chat("copyMessage", {"chat_id": 5}) == (True, 5)
    assert counted_chat("sendChatAction", {"chat_id": 5}) == (False, None)
    assert counted_chat("answerCallbackQuery", {"callback_query_id": "1"}) == (False, None)
    assert counted_chat("editMessageText", {"inline_message_id": "i"}) == (False, None)
    assert counted_chat("deleteMessage", {"chat_id": 5}) == (False, None)
    assert counted_chat("setWebhook", {"url": "u"}) == (False, None)


def test_a_web_process_counts_its_replies_bot_wide(tg: FakeTelegram, tmp_path: Path) -> None:
    web = WebProcess(make_settings(tg, tmp_path), "127.0.0.1", 0, SystemClock())
    assert web.app.bot.rate_limiter is web.limiter
    assert isinstance(web.limiter, SharedRateLimiter)
    assert web.limiter.limits.overall == 30  # Telegram's, for the whole bot
    paid = make_settings(tg, tmp_path, telegram_messages_per_second=1000)  # paid broadcasts
    assert WebProcess(paid, "127.0.0.1", 0, SystemClock()).limiter.limits.overall == 1000


async def test_two_web_processes_and_a_sender_keep_the_limits(db_url: str, api: BotApi) -> None:
    private = list(range(1001, 1061))
    groups = [-2001, -2002]
    chats = [*private, *groups]
    async with (
        senders(db_url, api.url, 1, hooks=HOOKS),
        web_bots(db_url, api.url, 2) as bots,
        table(db_url) as outbox,
    ):
        for chat in chats:
            for k in range(2):
                outbox.send(Note(chat, None, f"note {k}", hook=f"n:{chat}:{k}"))
        replies = [
            bot.send_message(chat, f"reply {w}") for w, bot in enumerate(bots) for chat in chats
        ]
        await asyncio.gather(*replies)
        await outbox.drain()
    times = api.times()
    assert len(times) == 4 * len(chats)
    for chat in chats:
        texts = api.texts(chat)
        assert sorted(texts) == ["note 0", "note 1", "reply 0", "reply 1"], chat
        assert re.findall(r"note \d", " ".join(texts)) == ["note 0", "note 1"]  # in order
    overall = most_in_window(times, 1.0, SLACK)
    assert overall <= 30
    # A private chat's notes come a second after whatever the chat got last (a reply too); its
    # replies do not wait for the pace (python-telegram-bot's own limiter paces groups only).
    assert min(gap_before_notes(api, c) for c in private) >= 1.0 - SLACK
    assert min(min_gap(api.times(c)) for c in groups) >= 3.0 - SLACK
    print(f"\n2 web limiters + 1 sender, {len(times)} messages: {overall} in the fullest second")


def gap_before_notes(api: BotApi, chat: int) -> float:
    """The shortest time between a note and the message before it in ``chat``."""
    got = sorted(
        (a.at, a.text) for a in api.arrivals if a.method == "sendMessage" and a.chat_id == chat
    )
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(got) if b[1].startswith("note")]
    return min(gaps, default=float("inf"))


async def test_a_private_chats_replies_go_at_once_and_its_notes_keep_the_pace(
    db_url: str, api: BotApi
) -> None:
    async with web_bots(db_url, api.url, 1) as [bot]:
        for k in range(3):
            await bot.send_message(4001, f"reply {k}")
        async with senders(db_url, api.url, 1, hooks=HOOKS), table(db_url) as outbox:
            outbox.send(Note(4001, 4001, "note", hook="n:4001"))
            await outbox.drain()
    replies = api.times(4001)[:3]
    assert replies[-1] - replies[0] < 1.0  # three answers in a row, none held a second
    assert gap_before_notes(api, 4001) >= 1.0 - SLACK  # the notice waits after the last reply


async def test_retry_after_pauses_the_chat_for_the_senders_too(db_url: str, api: BotApi) -> None:
    api.refuse[3001] = [1.5]
    async with web_bots(db_url, api.url, 1) as [bot]:
        await bot.send_message(3001, "reply")  # refused once, sent after the pause
        [(refused_at, _)] = api.refused
        [sent_at] = api.times(3001)
        assert sent_at - refused_at >= 1.5 - SLACK
        db = Database(db_url)
        try:
            async with db.engine.connect() as conn:
                paused = await conn.execute(
                    text("SELECT chat_id FROM outbox_chats WHERE next_ms > 0 ORDER BY chat_id")
                )
                assert [r[0] for r in paused] == [3001]  # that chat only, not everything
        finally:
            await db.close()
        # A note queued now goes a second after the reply, not before.
        async with senders(db_url, api.url, 1, hooks=HOOKS), table(db_url) as outbox:
            outbox.send(Note(3001, 3001, "note", hook="n:1"))
            await outbox.drain()
        assert min_gap(api.times(3001)) >= 1.0 - SLACK


async def test_a_second_refusal_is_raised_and_two_pause_everything(
    db_url: str, api: BotApi
) -> None:
    api.refuse[3101] = [1.0, 1.0]
    api.refuse[3102] = [0.5]
    async with web_bots(db_url, api.url, 1) as [bot]:
        with pytest.raises(RetryAfter):
            await bot.send_message(3101, "twice refused")
        await bot.send_message(3102, "refused while 3101 is paused")
    assert api.times(3101) == []
    assert len(api.times(3102)) == 1
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            everything = await conn.execute(
                text("SELECT next_ms FROM outbox_chats WHERE chat_id = 0")
            )
            assert everything.scalar() is not None  # two chats refused at once: the bot's limit
    finally:
        await db.close()
