"""The outbox as a table, for a bot on several processes (issue 22).

Producers in any process (web, worker, ingest) hand notes to a :class:`TableOutbox`: ``send``
never blocks — a writer task inserts what arrived in one statement at most ``flush`` seconds
later — and ``put`` inserts at once, durable when it returns (the ingest leader stores a fired
alert's notice before it stores that the alert fired). Senders in any process
(:class:`~bot.services.notices.senders.Sender`) drain the rows within Telegram's limits for the
bot as a whole. A note with a ``dedupe_key`` is inserted once (``ON CONFLICT DO NOTHING``): the
same notice queued twice is one row, one message.

Nothing here knows Telegram: keyboards become JSON through a :class:`MarkupCodec`
(``jobs.outbox.TelegramMarkupCodec``), and callbacks cannot be stored — a note's ``on_sent``
must be a named ``hook`` here (:class:`~bot.services.notices.outbox.Note`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Insert, and_, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.clock import Clock, now_ms
from bot.services.notices.outbox import Note, SettingsLookup, Transport
from bot.storage.db import Database
from bot.storage.outbox import OutboxChat, OutboxMessage

log = logging.getLogger("bot.outbox.table")

#: Seconds between the writer's inserts at most (what ``send`` queued waits this long).
FLUSH = 0.05
#: How long sent rows (and so their dedupe keys) are kept: a week.
KEEP_MS = 7 * 24 * 3600 * 1000
#: How often the writer refreshes the backlog counts that ``pending`` and ``held`` report.
COUNT_EVERY = 2.0


class MarkupCodec(Protocol):
    """A keyboard to JSON text and back (``None`` stays ``None``)."""

    def encode(self, markup: object | None) -> str | None: ...

    def decode(self, data: str | None) -> object | None: ...


class Held:
    """How many notes quiet hours hold in the table (as last counted): ``len(held)``."""

    def __init__(self) -> None:
        self.count = 0

    def __len__(self) -> int:
        return self.count


class TableOutbox:
    """Notes into ``outbox_messages`` (see the module's docstring).

    ``settings`` (optional) lets :meth:`release_held` free notes whose user's quiet hours ended
    early (the hours were changed); notes held until their quiet hours' end go by themselves.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        codec: MarkupCodec,
        *,
        settings: SettingsLookup | None = None,
        flush: float = FLUSH,
    ) -> None:
        self.db = db
        self.clock = clock
        self.codec = codec
        self.settings = settings
        self.flush = flush
        self.held = Held()
        self.backlog = 0
        self._queue: list[Note] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._chats: set[int] = set()
        self._counted_at = 0.0
        self._closing = False

    # ------------------------------------------------------------------ Notices

    def start(self, transport: Transport | None = None) -> None:
        """Start the writer (the senders send: ``transport`` is not used here)."""
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name="outbox-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop (the writer finishes the insert it is doing: an
        insert cut off after its commit would be written again)."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            try:
                async with asyncio.timeout(5.0):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._write()
        self._closing = False

    def send(self, note: Note) -> None:
        """Queue ``note``; the writer inserts it within ``flush`` seconds (never blocks)."""
        self._queue.append(note)
        self._wake.set()
        if self._task is None and not self._closing:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop (yet): start() or stop() writes it
                return
            self.start()

    def pending(self) -> int:
        """Notes not sent yet: queued here, and due in the table when last counted."""
        return len(self._queue) + self.backlog

    async def put(self, note: Note) -> bool:
        """Insert ``note`` now; True when it is a new row, False when its ``dedupe_key`` was
        already there."""
        return await self._insert([note]) == 1

    async def put_many(self, notes: Sequence[Note], *, chunk: int = 1000) -> int:
        """:meth:`put` for many notes at once (a tick that crosses many alerts): durable when
        it returns, one statement per ``chunk`` notes; how many rows were new."""
        new = 0
        for i in range(0, len(notes), chunk):
            new += await self._insert(notes[i : i + chunk])
        return new

    async def release_held(self) -> int:
        """Free held notes whose user is no longer in quiet hours (the hours were changed)."""
        if self.settings is None:
            return 0
        now = now_ms(self.clock)
        async with self.db.session() as s:
            found = (
                await s.execute(
                    select(OutboxMessage.user_id)
                    .where(_unsent(), OutboxMessage.not_before_ms > now)
                    .where(OutboxMessage.user_id.is_not(None))
                    .distinct()
                )
            ).scalars()
            users = list(found)
        settings = self.settings
        free = [u for u in users if u is not None and await quiet_until(settings, u, now) is None]
        if not free:
            return 0
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                update(OutboxMessage)
                .where(_unsent(), OutboxMessage.not_before_ms > now)
                .where(OutboxMessage.user_id.in_(free))
                .values(not_before_ms=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def drain(self) -> None:
        """Wait until everything queued has been written and every due row sent."""
        while self._queue:
            await self._write()
        while True:
            await self.count()
            if self.backlog == 0:
                return
            await asyncio.sleep(0.05)

    async def prune(self, keep_ms: int = KEEP_MS) -> int:
        """Forget rows sent more than ``keep_ms`` ago (a dedupe key is remembered that long);
        how many. Daily, by one worker."""
        cutoff = now_ms(self.clock) - keep_ms
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.sent_ms.is_not(None), OutboxMessage.sent_ms < cutoff
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def count(self) -> None:
        """Refresh ``backlog`` (rows due and unsent) and ``held`` (rows waiting for quiet
        hours to end)."""
        now = now_ms(self.clock)
        due = OutboxMessage.not_before_ms <= now
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(
                        func.count().filter(due),
                        func.count().filter(~due),
                    ).where(_unsent())
                )
            ).one()
        self.backlog, self.held.count = int(row[0]), int(row[1])

    # ------------------------------------------------------------------ the writer

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing:  # what else arrives meanwhile goes in the same insert
                await asyncio.sleep(self.flush)
            try:
                await self._write()
                if loop.time() - self._counted_at >= COUNT_EVERY:
                    self._counted_at = loop.time()
                    await self.count()
            except Exception:
                log.exception("could not write the outbox; trying again")
                self._wake.set()
                await asyncio.sleep(1.0)

    async def _write(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            await self._insert(batch)
        except BaseException:
            self._queue[:0] = batch  # kept, in order, for the next try
            raise

    async def _insert(self, notes: Sequence[Note]) -> int:
        """Insert ``notes`` (and their chats' pace rows, the first time); how many were new."""
        now = now_ms(self.clock)
        rows = [self._row(n, now) for n in notes]
        new_chats = sorted({n.chat_id for n in notes} - self._chats)
        async with self.db.session() as s, s.begin():
            if new_chats:  # in order: two writers never wait on each other's chats crosswise
                chats = [{"chat_id": c, "next_ms": 0} for c in new_chats]
                await s.execute(self._insert_stmt(OutboxChat).values(chats))
            result = await s.execute(
                self._insert_stmt(OutboxMessage).values(rows).returning(OutboxMessage.id)
            )
            inserted = len(result.all())
            if inserted and self.db.engine.dialect.name == "postgresql":
                await s.execute(text("SELECT pg_notify('outbox', '')"))  # senders wake
        self._chats.update(new_chats)
        return inserted

    def _insert_stmt(self, model: type[Any]) -> Insert:
        if self.db.engine.dialect.name == "postgresql":
            return postgresql.insert(model).on_conflict_do_nothing()
        return sqlite.insert(model).on_conflict_do_nothing()

    def _row(self, note: Note, now: int) -> dict[str, Any]:
        if note.on_sent is not None and note.hook is None:
            log.warning("a note's on_sent is not kept in the table outbox (name a hook)")
        return {
            "chat_id": note.chat_id,
            "user_id": note.user_id,
            "text": note.text,
            "markup": self.codec.encode(note.markup),
            "critical": note.critical,
            "edit_message_id": note.edit,
            "only_markup": note.only_markup,
            "hook": note.hook,
            "dedupe_key": note.dedupe_key,
            "created_ms": now,
            "not_before_ms": now,
        }


async def quiet_until(settings: SettingsLookup, user_id: int, now: int) -> int | None:
    """When ``user_id``'s quiet hours end (ms), or None when they are not in them now."""
    st = await settings(user_id)
    hour_ms = 3_600_000
    start = now - now % hour_ms
    if not st.quiet_at(datetime.fromtimestamp(now / 1000, UTC).hour):
        return None
    for k in range(1, 25):
        at = start + k * hour_ms
        if not st.quiet_at(datetime.fromtimestamp(at / 1000, UTC).hour):
            return at
    return None  # quiet around the clock is not quiet hours


def _unsent() -> Any:
    return and_(OutboxMessage.sent_ms.is_(None))
