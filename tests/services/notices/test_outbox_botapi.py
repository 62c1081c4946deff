"""The outbox against the embedded Bot API (``bot/localchat`` through FakeTelegram), sending with
python-telegram-bot's ``Bot`` as the running bot does: 200 notes to 5 private chats and 2
groups, measured where they arrive. No window holds more than the limits allow, every ``429``'s
``retry_after`` is honoured and its message still arrives, and each chat reads its notes in the
order they were sent.

The first test shortens the windows (``Limits``) so that every limit binds within seconds; the
second keeps Telegram's own numbers for the overall limit (30 a second) over 60 chats.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot

from bot.clock import SystemClock
from bot.localchat.messages import BotApiError
from bot.localchat.store import Event
from bot.services.notices.limits import Limiter, Limits, is_group
from bot.services.notices.outbox import Note, Outbox
from bot.storage.alerts import NotifySettings
from jobs.outbox import TelegramTransport
from tests.bot.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram

PRIVATE = [2001, 2002, 2003, 2004, 2005]
GROUPS = [-3001, -3002]
SHORT = Limits(overall=40, private=1, private_window=0.1, group=10, group_window=2.0)
#: Arrival times are read at the server: an earlier message's slower trip may bring two
#: messages that left a window apart this much closer.
SLACK = 0.03


class Arrivals:
    """What reached the Bot API and when (the server's own loop clock), and the 429s."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.sent: list[tuple[float, int, str]] = []
        self.refused: list[tuple[float, int]] = []
        self._inner = tg.server.api.gate
        tg.server.api.gate = self._gate
        tg.server.store.subscribe(self._on_event)

    def _gate(self, method: str, params: dict[str, Any]) -> BotApiError | None:
        refusal = self._inner(method, params) if self._inner is not None else None
        if refusal is not None:
            self.refused.append((asyncio.get_running_loop().time(), int(params["chat_id"])))
        return refusal

    def _on_event(self, event: Event) -> None:
        m = event.message
        if event.kind == "message" and m is not None and m.from_bot:
            self.sent.append((asyncio.get_running_loop().time(), m.chat_id, m.source))

    def times(self, chat: int | None = None) -> list[float]:
        return [t for t, c, _ in self.sent if chat is None or c == chat]


async def _settings(user_id: int) -> NotifySettings:
    return NotifySettings(user_id, user_id)


async def _remember(_message_id: int) -> None:
    return None


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{tg.url}/bot") as b:
        yield b


def most_in_window(times: list[float], window: float) -> int:
    """The most arrivals within any ``window`` (less the slack) seconds."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - (window - SLACK):
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_200_notes_to_5_chats_and_2_groups_keep_every_limit_and_order(
    tg: FakeTelegram, bot: Bot
) -> None:
    for group in GROUPS:  # a member writes there first, so the group exists
        await tg.send(PRIVATE[0], "hello", chat_id=group)
    arrivals = Arrivals(tg)
    tg.refuse_429 = 2  # Telegram's "retry after 1" for the first two calls
    outbox = Outbox(SystemClock(), _settings, limiter=Limiter(SHORT))
    outbox.start(TelegramTransport(bot))
    chats = PRIVATE + GROUPS
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(200):
        chat = chats[(i * 3 + i // 7) % len(chats)]
        merge = i % 4 == 0  # most notes stand alone; every fourth may join its neighbours
        user = None if is_group(chat) else chat
        outbox.send(Note(chat, user, f"n{i:03d}", on_sent=None if merge else _remember))
    await outbox.drain()
    took = loop.time() - started
    await outbox.stop()

    # Every note arrived once, in the order it was sent, in its own chat.
    for chat in chats:
        got = [n for _, c, text in arrivals.sent if c == chat for n in re.findall(r"n\d{3}", text)]
        expected = [f"n{i:03d}" for i in range(200) if chats[(i * 3 + i // 7) % 7] == chat]
        assert got == expected, chat
    # The two refused calls: their chats heard nothing for the second Telegram asked for.
    assert len(arrivals.refused) == 2
    for refused_at, chat in arrivals.refused:
        after = [t for t in arrivals.times(chat) if t > refused_at]
        assert after and after[0] - refused_at >= 1.0 - SLACK
    # No window over its limit.
    overall = most_in_window(arrivals.times(), SHORT.overall_window)
    private = max(most_in_window(arrivals.times(c), SHORT.private_window) for c in PRIVATE)
    group = max(most_in_window(arrivals.times(c), SHORT.group_window) for c in GROUPS)
    assert overall <= SHORT.overall
    assert private <= SHORT.private
    assert group <= SHORT.group
    # ... and the limits were what held the sending back, not something slower.
    assert overall >= SHORT.overall * 0.75
    assert group == SHORT.group
    print(
        f"\n{len(arrivals.sent)} messages for 200 notes in {took:.2f}s: "
        f"at most {overall}/{SHORT.overall_window:g}s overall, "
        f"{private}/{SHORT.private_window:g}s in a private chat, "
        f"{group}/{SHORT.group_window:g}s in a group"
    )


async def test_telegram_s_own_overall_limit_over_60_chats(tg: FakeTelegram, bot: Bot) -> None:
    arrivals = Arrivals(tg)
    outbox = Outbox(SystemClock(), _settings)  # the defaults: Telegram's numbers
    outbox.start(TelegramTransport(bot))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for chat in range(4001, 4061):
        outbox.send(Note(chat, chat, "ping"))
    await outbox.drain()
    took = loop.time() - started
    await outbox.stop()
    assert len(arrivals.sent) == 60
    overall = most_in_window(arrivals.times(), 1.0)
    assert 25 <= overall <= 30
    assert took >= 1.0 - SLACK  # 60 messages cannot leave within one second
    print(f"\n60 chats: {overall} in the busiest second, all sent in {took:.2f}s")
