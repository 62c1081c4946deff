"""The outbox: every message the bot sends unasked goes through here.

Alerts, fill notices, strategy proposals and reports, recovery notices after a restart, the
expiry sweeper's edits, funding and liquidation warnings — producers only enqueue, so a burst
never blocks the price stream. One sender task drains the queue into a line per chat: notes
waiting in a row for the same chat are joined into one message (up to Telegram's length limit),
so 200 alerts in a second become a handful of messages; quiet hours hold non-critical messages
until they end. Each chat's line is sent in order, one message in flight per chat, and only
when Telegram's limits for the bot allow (:class:`~bot.services.notices.limits.Limiter`: ~30 a
second overall, ~1 a second per private chat, 20 a minute per group); a ``retry_after``
(:class:`~bot.services.notices.limits.Throttled`) pauses the chat — or everything — and the
message is sent again after it, never dropped. Chats that may send go in the order their notes
arrived, a few at once, so one slow or limited chat never holds the others up. No Telegram types
here: a :class:`Transport` (python-telegram-bot's in ``jobs``) does the sending, and keyboards
pass through as opaque objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.clock import Clock
from bot.services.notices.limits import Limiter, Sent, Throttled
from bot.storage.alerts import NotifySettings

log = logging.getLogger("bot.outbox")

LIMIT = 3900
SettingsLookup = Callable[[int], Awaitable[NotifySettings]]
#: Messages in flight at once (to different chats): a slow answer never stalls every chat.
IN_FLIGHT = 8


class Transport(Protocol):
    """Sends and edits HTML messages; ``markup`` is whatever keyboard the transport knows.

    Telegram's ``retry_after`` is raised as :class:`~bot.services.notices.limits.Throttled`.
    """

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
    ignore quiet hours; notes with ``edit``, ``on_sent`` or ``hook`` are never merged, and a
    merged message keeps buttons only when it holds a single note.

    For the outbox as a table (several processes, :mod:`bot.services.notices.table`), where a
    callback cannot be stored: ``hook`` names what hears the new message's id instead of
    ``on_sent`` (``"proposal:<desk>:<token>"``: the sender's hook ``"proposal"`` is told
    ``"<desk>:<token>"`` and the id), and ``dedupe_key`` makes the same notice queued twice one
    message. The in-process :class:`Outbox` uses ``on_sent`` and ignores both.
    """

    chat_id: int
    user_id: int | None
    text: str
    markup: object | None = None
    critical: bool = False
    edit: int | None = None
    on_sent: Callable[[int], Awaitable[None]] | None = None
    only_markup: bool = False
    hook: str | None = None
    dedupe_key: str | None = None

    @property
    def mergeable(self) -> bool:
        return self.edit is None and self.on_sent is None and self.hook is None


@runtime_checkable
class Notices(Protocol):
    """The public face of both outboxes: the in-process :class:`Outbox` (one process) and
    :class:`~bot.services.notices.table.TableOutbox` (rows drained by senders in any process)."""

    @property
    def held(self) -> Sized:
        """Notes quiet hours hold back (as many as this process knows of)."""
        ...

    def send(self, note: Note) -> None:
        """Enqueue; never blocks."""
        ...

    def start(self, transport: Transport) -> None: ...

    async def stop(self) -> None: ...

    def pending(self) -> int:
        """Notes waiting to be sent, held ones not counted."""
        ...

    async def release_held(self) -> int:
        """Send what quiet hours held, for users whose quiet hours are over; how many."""
        ...

    async def drain(self) -> None:
        """Wait until everything queued has been sent (tests, shutdown)."""
        ...


Queued = tuple[int, Note]  # (arrival number, note)


class Outbox:
    """The queue, the per-chat lines, and the sender task (see the module's docstring)."""

    def __init__(
        self,
        clock: Clock,
        settings: SettingsLookup,
        *,
        limiter: Limiter | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.limiter = limiter or Limiter()
        self.in_flight = in_flight
        self.transport: Transport | None = None
        #: Where producers put notes; ``join()`` returns when every one is settled.
        self.queue: asyncio.Queue[Note] = asyncio.Queue()
        self.held: list[Note] = []
        self.sent_messages = 0
        self.sent_notes = 0
        self._lanes: dict[int, deque[Queued]] = {}
        self._arrivals = 0
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
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
        sending, self._sending = list(self._sending.values()), {}
        for t in sending:
            t.cancel()
        await asyncio.gather(*sending, return_exceptions=True)

    def send(self, note: Note) -> None:
        """Enqueue (never blocks)."""
        self.queue.put_nowait(note)
        self._wake.set()

    def pending(self) -> int:
        """Notes waiting to be sent (held ones not counted)."""
        return self.queue.qsize() + sum(len(lane) for lane in self._lanes.values())

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
                self.send(note)
                released += 1
        self.held = keep
        return released

    async def drain(self) -> None:
        """Wait until everything queued has been sent (tests, shutdown)."""
        await self.queue.join()

    # ------------------------------------------------------------------ the sender

    async def _run(self) -> None:
        try:
            while True:
                self._wake.clear()
                while not self.queue.empty():
                    note = self.queue.get_nowait()
                    self._arrivals += 1
                    self._lanes.setdefault(note.chat_id, deque()).append((self._arrivals, note))
                chat, wait = self._next()
                if chat is not None and wait <= 0:
                    self._launch(chat)
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait if chat is not None else None):
                        await self._wake.wait()
        finally:
            for t in self._sending.values():
                t.cancel()

    def _next(self) -> tuple[int | None, float]:
        """The chat to send to now (the one whose note waits longest), or the chat that may
        send soonest and how long until it may; ``(None, 0)`` when nothing can go."""
        if len(self._sending) >= self.in_flight:
            return None, 0.0
        # Ready chats by how long their note has waited, then the others by how soon they may.
        best: tuple[int, float, int] | None = None
        for chat, lane in self._lanes.items():
            if chat in self._sending:
                continue  # one message in flight per chat: its order is kept
            wait = self.limiter.delay(chat)
            option = (0, float(lane[0][0]), chat) if wait <= 0 else (1, wait, chat)
            if best is None or option < best:
                best = option
        if best is None:
            return None, 0.0
        return best[2], best[1] if best[0] else 0.0

    def _launch(self, chat: int) -> None:
        """Take the chat's next message (its notes in a row that merge) and send it."""
        lane = self._lanes[chat]
        batch = [lane.popleft()]
        size = len(batch[0][1].text)
        while batch[0][1].mergeable and lane and lane[0][1].mergeable:
            if size + len(lane[0][1].text) + 2 >= LIMIT:
                break
            size += len(lane[0][1].text) + 2
            batch.append(lane.popleft())
        if not lane:
            del self._lanes[chat]
        counted = self.limiter.sent(chat)
        task = asyncio.create_task(self._send(chat, batch), name=f"outbox-{chat}")
        self._sending[chat] = task
        task.add_done_callback(lambda _t: self._sent(chat, counted))

    def _sent(self, chat: int, counted: Sent) -> None:
        self.limiter.answered(counted)
        self._sending.pop(chat, None)
        self._wake.set()

    async def _send(self, chat: int, batch: list[Queued]) -> None:
        settled = len(batch)
        live: list[Queued] = []
        try:
            live = await self._hold_quiet(batch)
            if live:
                await self._deliver([note for _, note in live])
        except Throttled as exc:
            # Telegram's retry_after: this message goes again, first in its chat's line, once
            # the pause is over; everything else keeps its place.
            log.info("Telegram asked to wait %gs before chat %s", exc.retry_after, chat)
            self.limiter.pause(chat, exc.retry_after, everything=exc.everything)
            self._lanes.setdefault(chat, deque()).extendleft(reversed(live))
            settled -= len(live)
        except Exception:
            log.exception("message to chat %s failed", chat)
        finally:
            for _ in range(settled):
                self.queue.task_done()

    async def _hold_quiet(self, batch: list[Queued]) -> list[Queued]:
        """Keep back what quiet hours hold; return what goes now."""
        live: list[Queued] = []
        for queued in batch:
            note = queued[1]
            if not note.critical and note.edit is None and await self.quiet(note.user_id):
                self.held.append(note)
            else:
                live.append(queued)
        return live

    async def _deliver(self, live: list[Note]) -> None:
        assert self.transport is not None
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
