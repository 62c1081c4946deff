"""Outgoing notifications: a queue between the price stream and Telegram.

Producers (alerts, watchers) only enqueue, so a burst never blocks the stream. One sender task
drains the queue; messages waiting for the same chat are joined into one (up to Telegram's
length limit), so 200 alerts in a second become a handful of messages that pass python-telegram-
bot's rate limiter without a 429. Quiet hours hold non-critical messages until they end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode

from bot.clock import Clock
from bot.storage.alerts import NotifySettings

log = logging.getLogger("bot.notify")

LIMIT = 3900
SettingsLookup = Callable[[int], Awaitable[NotifySettings]]


@dataclass(frozen=True, slots=True)
class Note:
    chat_id: int
    user_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None
    critical: bool = False


class Notifier:
    def __init__(self, bot: Any, clock: Clock, settings: SettingsLookup) -> None:
        self.bot = bot
        self.clock = clock
        self.settings = settings
        self.queue: asyncio.Queue[Note] = asyncio.Queue()
        self.held: list[Note] = []
        self.sent_messages = 0
        self.sent_notes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def send(self, note: Note) -> None:
        """Enqueue (never blocks)."""
        self.queue.put_nowait(note)

    async def quiet(self, user_id: int) -> bool:
        st = await self.settings(user_id)
        return st.quiet_at(datetime.fromtimestamp(self.clock.time(), UTC).hour)

    async def release_held(self) -> int:
        """Send what quiet hours held, for users whose quiet hours are over."""
        keep: list[Note] = []
        released = 0
        for note in self.held:
            if await self.quiet(note.user_id):
                keep.append(note)
            else:
                self.queue.put_nowait(note)
                released += 1
        self.held = keep
        return released

    async def drain(self) -> None:
        """Wait until everything queued has been sent (tests, shutdown)."""
        await self.queue.join()

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            batch = [first]
            # Take what is already waiting for the same chat, up to one message's length.
            others: list[Note] = []
            size = len(first.text)
            while not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt.chat_id == first.chat_id and size + len(nxt.text) + 2 < LIMIT:
                    batch.append(nxt)
                    size += len(nxt.text) + 2
                else:
                    others.append(nxt)
            try:
                await self._deliver(batch)
            except Exception:
                log.exception("notification to chat %s failed", first.chat_id)
            finally:
                for _ in batch:
                    self.queue.task_done()
                for note in others:  # back in line, order kept
                    self.queue.put_nowait(note)
                    self.queue.task_done()

    async def _deliver(self, batch: list[Note]) -> None:
        live: list[Note] = []
        for note in batch:
            if not note.critical and await self.quiet(note.user_id):
                self.held.append(note)
            else:
                live.append(note)
        if not live:
            return
        text = "\n\n".join(n.text for n in live)
        markup = live[0].markup if len(live) == 1 else None
        await self.bot.send_message(
            live[0].chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
        )
        self.sent_messages += 1
        self.sent_notes += len(live)
