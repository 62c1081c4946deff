"""Senders: drain the outbox table within Telegram's limits for the whole bot (PostgreSQL).

Any number of :class:`Sender` loops, in any number of processes, share the limits because the
limits live in the database (:mod:`bot.storage.outbox`):

- **One message in flight per chat, in order.** A sender takes a chat by locking its
  ``outbox_chats`` row (``SELECT … FOR UPDATE SKIP LOCKED``, only when ``next_ms`` has passed)
  and keeps the transaction open for the one HTTP call; it then marks the rows sent and sets the
  chat's ``next_ms`` in that transaction. No other sender can take the chat meanwhile, and each
  claim takes the chat's *oldest* unsent rows, so a later message never overtakes an earlier
  one. Notes in a row that merge (no edit, no hook) become one message of at most
  :data:`~bot.services.notices.outbox.LIMIT` characters, as in the in-process outbox.
- **Per chat pace.** After Telegram answers, ``next_ms`` = answer + 1 s for a private chat and
  + 3 s for a group (``Limits``' window ÷ count: 20 a minute), so two messages to a chat reach
  Telegram at least that far apart.
- **~30 a second for the bot.** Before the HTTP call the sender counts, under one transaction
  advisory lock, the messages answered in the last second plus those still on their way
  (``outbox_rate``), and only goes below :attr:`Limits.overall` — the same rule as
  :class:`~bot.services.notices.limits.Limiter`: a message counts from when Telegram answered it,
  and as *now* while on its way, so the windows Telegram sees are never fuller than ours. (A
  count per calendar second would let 30 go at the end of one second and 30 more at the start
  of the next.)
- **retry_after.** :class:`~bot.services.notices.limits.Throttled` sets the chat's ``next_ms``
  after the pause, or — when Telegram says everything, or a second chat is refused while one is
  still paused (seen by this sender) — chat ``0``'s, which every sender waits for. The message
  stays unsent and goes after the pause; nothing is dropped.
- **Quiet hours.** A non-critical note that is not an edit, for a user in quiet hours, gets
  ``not_before_ms`` = the end of them and goes then.
- **Hooks.** A row's ``hook`` ``"name:rest"`` calls ``hooks["name"](rest, message_id)`` after
  the row is marked sent (a proposal remembers its message so the sweeper can edit it).

**A sender killed mid-send** (SIGKILL): its connection drops, PostgreSQL rolls its transaction
back and unlocks the chat, and the next sender sends the same rows — delivered *at least once*:
the one window where a message can go twice is a kill between Telegram's answer and the commit
right after it (one HTTP call). A sender that hangs instead is cut off by
``idle_in_transaction_session_timeout``; its in-flight count stops counting after
``call_timeout`` + :data:`~bot.services.notices.rate.STALE_AFTER`. A hook is called after the
commit, so a kill between the commit and the hook skips the hook (the row keeps
``message_id``).

PostgreSQL only (the single-process bot keeps the in-process
:class:`~bot.services.notices.outbox.Outbox`); the module imports anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, now_ms
from bot.services.notices.limits import EVERYTHING_AFTER, Limits, Throttled, is_group
from bot.services.notices.outbox import LIMIT, SettingsLookup, Transport
from bot.services.notices.rate import STALE_AFTER, Window
from bot.services.notices.table import MarkupCodec, quiet_until
from bot.storage.db import Database

log = logging.getLogger("bot.outbox.sender")

Hook = Callable[[str, int], Awaitable[None]]
#: Chats on a sender's list of chats with due notes (read again every RELIST seconds).
CANDIDATES = 200
RELIST = 1.0
#: The longest an idle sender waits before looking again (new rows wake it at once).
IDLE = 1.0
#: The channel a TableOutbox notifies after inserting rows.
CHANNEL = "outbox"
#: Failed sends (not retry_after) before a message is given up (logged).
MAX_ATTEMPTS = 3
#: Rows looked at per claim (merging stops at LIMIT characters long before).
ROWS = 100
_CANDIDATES = text(
    """
    SELECT w.chat_id FROM (
        SELECT chat_id, min(id) AS first FROM outbox_messages
        WHERE sent_ms IS NULL AND not_before_ms <= :now GROUP BY chat_id
    ) w JOIN outbox_chats c ON c.chat_id = w.chat_id
    WHERE c.next_ms <= :now AND c.chat_id <> 0
      AND NOT EXISTS (SELECT 1 FROM outbox_chats z WHERE z.chat_id = 0 AND z.next_ms > :now)
    ORDER BY w.first LIMIT :n
    """
)
#: When nothing is due: the soonest moment something will be (a chat's pace, a pause of
#: everything, quiet hours' end).
_SOONEST = text(
    """
    SELECT LEAST(
        (SELECT min(c.next_ms) FROM outbox_chats c
         WHERE c.chat_id <> 0 AND c.next_ms > :now AND EXISTS (
            SELECT 1 FROM outbox_messages m
            WHERE m.chat_id = c.chat_id AND m.sent_ms IS NULL AND m.not_before_ms <= :now)),
        (SELECT min(not_before_ms) FROM outbox_messages
         WHERE sent_ms IS NULL AND not_before_ms > :now),
        (SELECT next_ms FROM outbox_chats WHERE chat_id = 0 AND next_ms > :now))
    """
)
_CLAIM = text(
    """
    SELECT chat_id FROM outbox_chats
    WHERE chat_id = ANY(CAST(:chats AS BIGINT[])) AND next_ms <= :now
    ORDER BY array_position(CAST(:chats AS BIGINT[]), chat_id)
    LIMIT 1 FOR UPDATE SKIP LOCKED
    """
)
_ROWS = text(
    """
    SELECT id, user_id, text, markup, critical, edit_message_id, only_markup, hook, attempts
    FROM outbox_messages
    WHERE chat_id = :chat AND sent_ms IS NULL AND not_before_ms <= :now
    ORDER BY id LIMIT :n
    """
)
_PACE = text("UPDATE outbox_chats SET next_ms = :at WHERE chat_id = :chat")
_PAUSE_ALL = text(
    "INSERT INTO outbox_chats (chat_id, next_ms) VALUES (0, :at) "
    "ON CONFLICT (chat_id) DO UPDATE SET next_ms = GREATEST(outbox_chats.next_ms, :at)"
)
_HOLD = text("UPDATE outbox_messages SET not_before_ms = :at WHERE id = :id")


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    user_id: int | None
    text: str
    markup: str | None
    critical: bool
    edit: int | None
    only_markup: bool
    hook: str | None
    attempts: int

    @property
    def mergeable(self) -> bool:
        return self.edit is None and self.hook is None


class Sender:
    """Drains ``outbox_messages`` (see the module's docstring). ``run()`` until ``stop()``.

    ``in_flight``: messages this sender has on their way at once (to different chats);
    ``call_timeout``: the longest one Bot API call may take; ``poll``: how often an idle
    sender looks for work.
    """

    def __init__(  # noqa: PLR0917 - the composition root names each collaborator
        self,
        db: Database,
        clock: Clock,
        transport: Transport,
        settings_lookup: SettingsLookup,
        codec: MarkupCodec,
        hooks: Mapping[str, Hook],
        *,
        limits: Limits | None = None,
        in_flight: int = 8,
        call_timeout: float = 10.0,
        poll: float = 0.05,
    ) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self.settings = settings_lookup
        self.codec = codec
        self.hooks = hooks
        self.limits = limits or Limits()
        self.in_flight = in_flight
        self.call_timeout = call_timeout
        self.poll = poll
        self.sent_messages = 0
        self.sent_notes = 0
        self._candidates: list[int] = []
        self._listed_at = -RELIST
        self._soonest_ms: int | None = None
        self._wake = asyncio.Event()
        self._listening: AsyncConnection | None = None
        self._stopping = asyncio.Event()
        self._window = Window(db, clock, self.limits, call_timeout, self._stopping)
        self._paused: dict[int, float] = {}

    async def run(self) -> None:
        """Send until :meth:`stop` (the messages on their way are finished first)."""
        sending: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(self._stopping.wait())
        await self._listen()
        try:
            while not self._stopping.is_set():
                claimed = None
                if len(sending) < self.in_flight:
                    try:
                        claimed = await self._claim()
                    except Exception:
                        log.exception("outbox sender could not claim; trying again")
                if claimed is not None:
                    task = asyncio.create_task(self._send(*claimed), name="outbox-send")
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                    continue
                # Full, or nothing to claim: wait for a send to finish, new rows (NOTIFY), or
                # the moment the next chat may send.
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    [*sending, stopping, woken],
                    timeout=None if len(sending) >= self.in_flight else self._idle(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                if self._wake.is_set():
                    self._wake.clear()
                    self._listed_at = -RELIST  # new rows: read the list again
        except asyncio.CancelledError:
            for task in sending:  # their transactions roll back: the messages go again later
                task.cancel()
            raise
        finally:
            stopping.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            await self._unlisten()

    def stop(self) -> None:
        self._stopping.set()

    def _idle(self) -> float:
        """Seconds to wait when nothing could be claimed: ``poll`` while due chats are listed
        (others have them), else until the soonest chat may send, at most :data:`IDLE`."""
        if self._candidates or self._soonest_ms is None:
            return self.poll if self._candidates else IDLE
        return min(IDLE, max(self.poll, (self._soonest_ms - now_ms(self.clock)) / 1000))

    async def _listen(self) -> None:
        """Hear ``NOTIFY outbox`` (a :class:`TableOutbox` inserted rows) on a connection of
        its own; without it the sender looks every :data:`IDLE` seconds."""
        if self.db.engine.dialect.name != "postgresql":
            return
        try:
            conn = await self.db.engine.connect()
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.add_listener(CHANNEL, self._notified)
        except Exception:
            log.exception("could not listen for new outbox rows; looking every %gs", IDLE)
            return
        self._listening = conn

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _unlisten(self) -> None:
        conn, self._listening = self._listening, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # LISTEN ends with the connection
            await conn.close()

    # ------------------------------------------------------------------ claiming a chat

    async def _due(self, *, fresh: bool) -> list[int]:
        """Chats with due notes, the longest waiting first: this process's list, read again
        at most every ``poll`` seconds when ``fresh`` (nothing on it could be claimed), and
        every :data:`RELIST` seconds anyway (a chat whose pace passed joins it again)."""
        loop = asyncio.get_running_loop()
        age = loop.time() - self._listed_at
        if age >= RELIST or (fresh and age >= self.poll):
            async with self.db.engine.connect() as conn:
                found = await conn.execute(
                    _CANDIDATES, {"now": now_ms(self.clock), "n": CANDIDATES}
                )
                self._candidates = [int(r[0]) for r in found]
                self._soonest_ms = None
                if not self._candidates:
                    soonest = await conn.execute(_SOONEST, {"now": now_ms(self.clock)})
                    self._soonest_ms = soonest.scalar()
            self._listed_at = loop.time()
        return self._candidates

    async def _claim(self) -> tuple[AsyncConnection, int] | None:
        """Lock the row of a chat whose next message may go now: the open connection (its
        transaction holds the lock) and the chat; None when no chat may send now."""
        fresh = False
        while chats := await self._due(fresh=fresh):
            conn = await self.db.engine.connect()
            try:
                await conn.begin()
                now = now_ms(self.clock)
                chat = (await conn.execute(_CLAIM, {"chats": chats, "now": now})).scalar()
                if chat is not None:
                    # Waiting for the window and the call: each up to call_timeout.
                    timeout_ms = int((2 * self.call_timeout + 2 * STALE_AFTER) * 1000)
                    await conn.execute(
                        text(f"SET LOCAL idle_in_transaction_session_timeout = {timeout_ms}")
                    )
            except BaseException:
                await conn.close()
                raise
            if chat is not None:
                with contextlib.suppress(ValueError):
                    self._candidates.remove(chat)
                return conn, int(chat)
            await conn.close()  # every listed chat is on its way, or was just sent to
            if fresh:
                return None
            fresh = True
        return None

    async def _send(self, conn: AsyncConnection, chat: int) -> None:
        """Send the claimed chat's next message, commit, then call its hook."""
        hook = None
        try:
            hook = await self._chat(conn, chat)
            await conn.commit()
        except Exception:
            log.exception("outbox message to chat %s failed", chat)
        finally:
            await conn.close()  # without a commit: rolled back, the chat free for another
        if hook is not None:  # after the commit: the row says it was sent
            await self._hook(*hook)

    async def _chat(self, conn: AsyncConnection, chat: int) -> tuple[str, int] | None:
        """The chat's row is locked (in ``conn``'s transaction): send its next message; the
        hook to call once the transaction is committed, if any."""
        now = now_ms(self.clock)
        found = await conn.execute(_ROWS, {"chat": chat, "now": now, "n": ROWS})
        batch = await self._next_message(conn, [Row(*r) for r in found], now)
        if not batch:
            return None
        key = await self._window.leave(asyncio.get_running_loop().time() + self.call_timeout)
        if key is None:
            return None  # stopping, or everything paused for long: nothing sent, chat free
        try:
            async with asyncio.timeout(self.call_timeout):
                message_id = await self._deliver(chat, batch)
        except Throttled as exc:
            await self._window.arrived(conn, key)
            await self._throttled(conn, chat, exc)
            return None
        except Exception:
            log.exception("message to chat %s failed", chat)
            await self._window.arrived(conn, key)
            await self._failed(conn, chat, batch)
            return None
        answered = await self._window.arrived(conn, key)
        ids = [r.id for r in batch]
        await conn.execute(
            text(
                "UPDATE outbox_messages SET sent_ms = :at, message_id = :mid "
                "WHERE id = ANY(:ids) AND sent_ms IS NULL"
            ),
            {"at": answered, "mid": message_id, "ids": ids},
        )
        await conn.execute(_PACE, {"chat": chat, "at": answered + self._pace_ms(chat)})
        self.sent_messages += 1
        self.sent_notes += len(batch)
        hook = batch[0].hook
        return (hook, message_id) if hook is not None and message_id is not None else None

    async def _next_message(self, conn: AsyncConnection, rows: list[Row], now: int) -> list[Row]:
        """The chat's next message: its first row and the mergeable ones right after it
        (joined up to :data:`LIMIT` characters), as in the in-process outbox. Rows on the way
        that quiet hours hold are set aside (``not_before_ms`` = the end of them)."""
        batch: list[Row] = []
        size = 0
        quiet: dict[int, int | None] = {}
        for r in rows:
            if batch and not (batch[0].mergeable and r.mergeable):
                break
            if batch and size + len(r.text) + 2 >= LIMIT:
                break
            if not r.critical and r.edit is None and r.user_id is not None:
                if r.user_id not in quiet:
                    quiet[r.user_id] = await quiet_until(self.settings, r.user_id, now)
                until = quiet[r.user_id]
                if until is not None:
                    await conn.execute(_HOLD, {"at": until, "id": r.id})
                    continue
            size += len(r.text) + (2 if batch else 0)
            batch.append(r)
        return batch

    async def _deliver(self, chat: int, batch: list[Row]) -> int | None:
        first = batch[0]
        markup = self.codec.decode(first.markup)
        if first.edit is not None and first.only_markup:
            await self.transport.edit_markup(chat, first.edit, markup)
            return first.edit
        if first.edit is not None:
            await self.transport.edit(chat, first.edit, first.text, markup)
            return first.edit
        body = "\n\n".join(r.text for r in batch)
        return await self.transport.send(chat, body, markup if len(batch) == 1 else None)

    async def _hook(self, hook: str, message_id: int) -> None:
        name, _, rest = hook.partition(":")
        fn = self.hooks.get(name)
        if fn is None:
            log.warning("no outbox hook named %r", name)
            return
        try:
            await fn(rest, message_id)
        except Exception:
            log.exception("outbox hook %r failed", name)

    def _pace_ms(self, chat: int) -> int:
        lim = self.limits
        if is_group(chat):
            return int(lim.group_window / lim.group * 1000)
        return int(lim.private_window / lim.private * 1000)

    async def _throttled(self, conn: AsyncConnection, chat: int, exc: Throttled) -> None:
        log.info("Telegram asked to wait %gs before chat %s", exc.retry_after, chat)
        now = time.monotonic()
        self._paused = {c: t for c, t in self._paused.items() if t > now}
        self._paused[chat] = now + exc.retry_after
        until = now_ms(self.clock) + int(exc.retry_after * 1000)
        await conn.execute(_PACE, {"chat": chat, "at": until})
        if exc.everything or len(self._paused) >= EVERYTHING_AFTER:
            await conn.execute(_PAUSE_ALL, {"at": until})

    async def _failed(self, conn: AsyncConnection, chat: int, batch: list[Row]) -> None:
        """Not delivered (not a retry_after): tried again after the chat's pace, given up on
        after :data:`MAX_ATTEMPTS`."""
        now = now_ms(self.clock)
        for r in batch:
            gone = r.attempts + 1 >= MAX_ATTEMPTS
            if gone:
                log.warning("gave up on outbox message %s to chat %s", r.id, chat)
            await conn.execute(
                text(
                    "UPDATE outbox_messages SET attempts = attempts + 1, "
                    "sent_ms = CASE WHEN :gone THEN CAST(:now AS BIGINT) END WHERE id = :id"
                ),
                {"gone": gone, "now": now, "id": r.id},
            )
        await conn.execute(_PACE, {"chat": chat, "at": now + self._pace_ms(chat)})

    # ------------------------------------------------------------------ the bot-wide count
