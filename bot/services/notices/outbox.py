"""The outbox: every message the bot sends unasked goes through here.

Alerts, fill notices, strategy proposals and reports, recovery notices after a restart, the
expiry sweeper's edits, funding and liquidation warnings — producers only enqueue, so a burst
never blocks the price stream. One sender task drains the queue: messages waiting for the same
chat are joined into one (up to Telegram's length limit), so 200 alerts in a second become a
handful of messages that pass the rate limiter; quiet hours hold non-critical messages until
they end. No Telegram types here: a :class:`Transport` (python-telegram-bot's in ``jobs``) does
the sending, and keyboards pass through as opaque objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.clock import Clock
from bot.storage.alerts import NotifySettings

log = logging.getLogger("bot.outbox")

LIMIT = 3900
SettingsLookup = Callable[[int], Awaitable[NotifySettings]]


class Transport(Protocol):
    """Sends and edits HTML messages; ``markup`` is whatever keyboard the transport knows."""

    async def send(self, chat_id: int, text: str, markup: object | None) -> int: ...

    async def edit(
        self, chat_id: int, message_id: int, text: str, markup: object | None
    ) -> None: ...

    async def edit_markup(self, chat_id: int, message_id: int, markup: object | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Note:
    """One unsolicited message.

    ``edit`` replaces the text of an earlier message instead of sending a new one (and drops
    its buttons unless ``markup`` is given; with ``only_markup`` just the keyboard changes, to
    ``markup``); ``on_sent`` hears the id of a new message (a
    proposal remembers its message so the sweeper can edit it later). ``critical`` notes
    ignore quiet hours; notes with ``edit`` or ``on_sent`` are never merged, and a merged
    message keeps buttons only when it holds a single note.
    """

    chat_id: int
    user_id: int | None
    text: str
    markup: object | None = None
    critical: bool = False
    edit: int | None = None
    on_sent: Callable[[int], Awaitable[None]] | None = None
    only_markup: bool = False

    @property
    def mergeable(self) -> bool:
        return self.edit is None and self.on_sent is None


class Outbox:
    def __init__(self, clock: Clock, settings: SettingsLookup) -> None:
        self.clock = clock
        self.settings = settings
        self.transport: Transport | None = None
        self.queue: asyncio.Queue[Note] = asyncio.Queue()
        self.held: list[Note] = []
        self.sent_messages = 0
        self.sent_notes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, transport: Transport) -> None:
        self.transport = transport
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Send what is queued (briefly), then stop."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.queue.join()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def send(self, note: Note) -> None:
        """Enqueue (never blocks)."""
        self.queue.put_nowait(note)

    async def quiet(self, user_id: int | None) -> bool:
        if user_id is None:
            return False
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
            while first.mergeable and not self.queue.empty():
                nxt = self.queue.get_nowait()
                fits = size + len(nxt.text) + 2 < LIMIT
                if nxt.chat_id == first.chat_id and nxt.mergeable and fits:
                    batch.append(nxt)
                    size += len(nxt.text) + 2
                else:
                    others.append(nxt)
            try:
                await self._deliver(batch)
            except Exception:
                log.exception("message to chat %s failed", first.chat_id)
            finally:
                for _ in batch:
                    self.queue.task_done()
                for note in others:  # back in line, order kept
                    self.queue.put_nowait(note)
                    self.queue.task_done()

    async def _deliver(self, batch: list[Note]) -> None:
        assert self.transport is not None
        live: list[Note] = []
        for note in batch:
            if not note.critical and note.edit is None and await self.quiet(note.user_id):
                self.held.append(note)
            else:
                live.append(note)
        if not live:
            return
        first = live[0]
        if first.edit is not None and first.only_markup:
            await self.transport.edit_markup(first.chat_id, first.edit, first.markup)
        elif first.edit is not None:
            await self.transport.edit(first.chat_id, first.edit, first.text, first.markup)
        else:
            text = "\n\n".join(n.text for n in live)
            markup = first.markup if len(live) == 1 else None
            message_id = await self.transport.send(first.chat_id, text, markup)
            if first.on_sent is not None:
                await first.on_sent(message_id)
        self.sent_messages += 1
        self.sent_notes += len(live)
