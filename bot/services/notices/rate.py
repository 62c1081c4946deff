"""The bot-wide window of the outbox senders (:mod:`bot.services.notices.senders`), in
PostgreSQL so that every sender in every process shares it.

The rule is :class:`~bot.services.notices.limits.Limiter`'s: a message counts from when Telegram
answered it, and as *now* while on its way, so the window Telegram sees is never fuller than
ours however long a request travels. ``outbox_rate`` holds the counts: answered messages keyed
by the millisecond of the answer (``second`` > 0), messages on their way by minus the
millisecond they left (``second`` < 0). A sender takes :data:`RATE_LOCK` (a transaction advisory
lock), and one statement counts the window and, below :attr:`Limits.overall` and with nothing
pausing everything (chat ``0``'s ``next_ms``), counts one more message on its way — the lock is
held for that statement and the commit. (A count per calendar second would let 30 go at the end
of one second and 30 more at the start of the next.)
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, now_ms
from bot.services.notices.limits import Limits
from bot.storage.db import Database

#: An in-flight count whose sender vanished stops counting this long after ``call_timeout``.
STALE_AFTER = 5.0
#: ``pg_advisory_xact_lock`` key of the bot-wide count (namespace 22, "outbox").
RATE_LOCK = 22_0016

_COUNT = text(
    """
    SELECT second, sent FROM outbox_rate
    WHERE second > :since OR (second < 0 AND -second >= :oldest)
    ORDER BY second DESC
    """
)
_LEAVE = text(
    "INSERT INTO outbox_rate (second, sent) VALUES (:key, 1) "
    "ON CONFLICT (second) DO UPDATE SET sent = outbox_rate.sent + 1"
)
_ARRIVE = text("UPDATE outbox_rate SET sent = sent - 1 WHERE second = :key")
_EVERYTHING = text("SELECT next_ms FROM outbox_chats WHERE chat_id = 0")
_RATE_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
#: Under the lock: one more message on its way, if the window (answered within it, plus on
#: their way) holds fewer than ``overall`` and nothing pauses everything.
_TRY_LEAVE = text(
    """
    WITH counted AS (
        SELECT coalesce(sum(sent), 0) AS n FROM outbox_rate
        WHERE second > :since OR (second < 0 AND -second >= :oldest)
    ), paused AS (
        SELECT coalesce(max(next_ms), 0) AS until FROM outbox_chats WHERE chat_id = 0
    )
    INSERT INTO outbox_rate (second, sent)
    SELECT :key, 1 FROM counted, paused WHERE counted.n < :overall AND paused.until <= :now
    ON CONFLICT (second) DO UPDATE SET sent = outbox_rate.sent + 1
    RETURNING second
    """
)
_PRUNE_RATE = text(
    "DELETE FROM outbox_rate WHERE (second > 0 AND second < :old) OR "
    "(second < 0 AND -second < :old_flight) OR sent <= 0"
)


class Window:
    """The bot-wide count (see the module's docstring); ``call_timeout`` bounds a Bot API
    call, so a count left by a vanished sender stops counting after it (+ STALE_AFTER)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        limits: Limits,
        call_timeout: float,
        stopping: asyncio.Event,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.call_timeout = call_timeout
        self._stopping = stopping
        self._leaving = asyncio.Lock()
        self._pruned_at = 0

    async def leave(self, give_up: float) -> int | None:
        """Wait until the bot-wide window (and any pause of everything) lets one more message
        go, and count it as on its way; its key in ``outbox_rate``. None when stopping, or
        still waiting at ``give_up`` (loop time: the chat is let go, to be claimed again). One
        message of this sender's waits for the window at a time (the others queue here), so
        the senders' processes, not their messages, take turns at the lock."""
        try:
            async with asyncio.timeout_at(give_up):
                await self._leaving.acquire()
        except TimeoutError:
            return None
        try:
            return await self._wait_to_leave(give_up)
        finally:
            self._leaving.release()

    async def _wait_to_leave(self, give_up: float) -> int | None:
        lim = self.limits
        window = int(lim.overall_window * 1000)
        stale = int((self.call_timeout + STALE_AFTER) * 1000)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set() and loop.time() < give_up:
            async with self.db.engine.connect() as conn:
                async with conn.begin():  # the lock is held for one statement and the commit
                    await conn.execute(_RATE_LOCK, {"k": RATE_LOCK})
                    now = now_ms(self.clock)
                    bounds = {"since": now - window, "oldest": now - stale, "now": now}
                    left = await conn.execute(
                        _TRY_LEAVE, {**bounds, "key": -now, "overall": lim.overall}
                    )
                    key = -now if left.first() is not None else None
                if key is not None:
                    await self._prune(conn, now, window, stale)
                    return key
                # Refused: how long until the window (or a pause of everything) lets one go.
                everything = (await conn.execute(_EVERYTHING)).scalar()
                counts = await conn.execute(
                    _COUNT, {"since": bounds["since"], "oldest": bounds["oldest"]}
                )
                wait_ms = max(
                    (everything or 0) - now, _window_wait(list(counts), lim.overall, window, now)
                )
                await conn.rollback()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(wait_ms, 5), 1000) / 1000):
                    await self._stopping.wait()
        return None

    async def arrived(self, conn: AsyncConnection, key: int) -> int:
        """Telegram answered the message counted at ``key``: it counts from now on."""
        now = now_ms(self.clock)
        await conn.execute(_ARRIVE, {"key": key})
        await conn.execute(_LEAVE, {"key": now})
        return now

    async def _prune(self, conn: AsyncConnection, now: int, window: int, stale: int) -> None:
        """Forget counts no window looks at any more (every few seconds, outside the lock)."""
        if now - self._pruned_at < 5000:
            return
        self._pruned_at = now
        async with conn.begin():
            await conn.execute(
                _PRUNE_RATE, {"old": now - 2 * window, "old_flight": now - 2 * stale}
            )


def _window_wait(counts: list[tuple[int, int]], overall: int, window: int, now: int) -> int:
    """Milliseconds until fewer than ``overall`` messages count (answered within ``window``,
    or on their way): ``counts`` are ``(key, n)`` rows, newest answers first."""
    total = sum(max(n, 0) for _, n in counts)
    if total < overall:
        return 0
    answered = [(k, n) for k, n in counts if k > 0]  # newest first
    must_leave = total - overall + 1
    for k, n in reversed(answered):  # oldest first
        must_leave -= max(n, 0)
        if must_leave <= 0:
            return max(1, k + window - now)
    return 20  # on their way: look again shortly


# ---------------------------------------------------------------------- direct replies
# What a web process sends itself (a handler's reply, :mod:`jobs.ratelimit`) takes a slot of
# the same window and keeps the same per-chat pace row as the senders. Under the lock, one
# statement: the window has room, nothing pauses everything, and the chat's row is either absent
# or free (not claimed by a sender: ``SKIP LOCKED``) with its ``next_ms`` passed — then the
# chat's ``next_ms`` becomes ``:reserve`` (now + its pace, so no sender claims it meanwhile) and
# the message counts as on its way. It never waits for a row lock while holding RATE_LOCK (a
# sender holding its chat's row waits for RATE_LOCK): the row it updates is the one ``mine``
# locked, and a new row is inserted with ``DO NOTHING``.
_TRY_REPLY = text(
    """
    WITH counted AS (
        SELECT coalesce(sum(sent), 0) AS n FROM outbox_rate
        WHERE second > :since OR (second < 0 AND -second >= :oldest)
    ), paused AS (
        SELECT coalesce(max(next_ms), 0) AS until FROM outbox_chats WHERE chat_id = 0
    ), mine AS (
        SELECT next_ms FROM outbox_chats WHERE chat_id = CAST(:chat AS BIGINT)
        FOR UPDATE SKIP LOCKED
    ), known AS (
        SELECT count(*) AS n FROM outbox_chats WHERE chat_id = CAST(:chat AS BIGINT)
    ), ok AS (
        SELECT 1 AS yes FROM counted, paused, known
        WHERE counted.n < :overall AND paused.until <= :now
          AND (known.n = 0 OR EXISTS (
              SELECT 1 FROM mine WHERE NOT CAST(:paced AS BOOLEAN) OR mine.next_ms <= :now))
    ), held AS (
        UPDATE outbox_chats SET next_ms = GREATEST(next_ms, :reserve)
        WHERE chat_id = CAST(:chat AS BIGINT)
          AND EXISTS (SELECT 1 FROM ok) AND EXISTS (SELECT 1 FROM mine)
    ), new AS (
        INSERT INTO outbox_chats (chat_id, next_ms)
        SELECT CAST(:chat AS BIGINT), :reserve FROM ok, known
        WHERE known.n = 0 AND CAST(:chat AS BIGINT) IS NOT NULL
        ON CONFLICT (chat_id) DO NOTHING
    )
    INSERT INTO outbox_rate (second, sent) SELECT :key, 1 FROM ok
    ON CONFLICT (second) DO UPDATE SET sent = outbox_rate.sent + 1
    RETURNING second
    """
)
#: Refused: the chat's ``next_ms`` (None without a row) and whether a sender holds its row.
_CHAT_STATE = text(
    """
    SELECT c.next_ms, NOT EXISTS (
        SELECT 1 FROM outbox_chats f WHERE f.chat_id = c.chat_id FOR UPDATE SKIP LOCKED)
    FROM outbox_chats c WHERE c.chat_id = CAST(:chat AS BIGINT)
    """
)
#: Answered: the count moves to the answer's millisecond and the chat's pace starts from it
#: (a chat a sender claimed meanwhile is left to that sender, which sets it itself).
_REPLIED = text(
    """
    WITH gone AS (
        UPDATE outbox_rate SET sent = sent - 1 WHERE second = :key
    ), pace AS (
        UPDATE outbox_chats SET next_ms = GREATEST(next_ms, :at) WHERE chat_id = (
            SELECT chat_id FROM outbox_chats WHERE chat_id = CAST(:chat AS BIGINT)
            FOR UPDATE SKIP LOCKED)
    )
    INSERT INTO outbox_rate (second, sent) VALUES (:now, 1)
    ON CONFLICT (second) DO UPDATE SET sent = outbox_rate.sent + 1
    """
)
_PAUSE = text(
    "INSERT INTO outbox_chats (chat_id, next_ms) VALUES (:chat, :at) "
    "ON CONFLICT (chat_id) DO UPDATE SET next_ms = GREATEST(outbox_chats.next_ms, :at)"
)
#: A sender holds the chat's row for one call: look again this soon.
BUSY_MS = 20


def pace_ms(limits: Limits, chat: int) -> int:
    """The least time between two messages to ``chat`` (a group's 20 a minute: every 3 s)."""
    if chat < 0:
        return int(limits.group_window / limits.group * 1000)
    return int(limits.private_window / limits.private * 1000)


def paced(chat: int | None) -> bool:
    """Whether a reply to ``chat`` waits for the chat's pace: in a group (20 a minute), yes; in
    a private chat, no — an answer and the edit of a tapped preview go at once, as
    python-telegram-bot's own limiter lets them (it paces groups only), and the reply moves the
    chat's pace on, so the senders' next notice to that chat still comes a second after it."""
    return chat is not None and chat < 0


class ReplySlots:
    """A direct reply's turn in the senders' window and its chat's pace (see above): ``take``
    before the Bot API call, ``answered`` after it, ``pause`` for a ``retry_after``. ``chat``
    None (a ``@username``) counts in the window only; a private chat's reply does not wait for
    the chat's pace but sets it (:func:`paced`)."""

    def __init__(self, db: Database, clock: Clock, limits: Limits, call_timeout: float) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.call_timeout = call_timeout
        self._turn = asyncio.Lock()  # this process's replies take the lock one at a time

    async def take(self, chat: int | None) -> tuple[int | None, int]:
        """``(key, 0)``: the reply may go now, counted at ``key`` in ``outbox_rate``; else
        ``(None, ms)``: how long until it may (at most a second: look again then)."""
        lim = self.limits
        window = int(lim.overall_window * 1000)
        stale = int((self.call_timeout + STALE_AFTER) * 1000)
        async with self._turn, self.db.engine.connect() as conn:
            async with conn.begin():  # the lock is held for one statement and the commit
                await conn.execute(_RATE_LOCK, {"k": RATE_LOCK})
                now = now_ms(self.clock)
                bounds = {"since": now - window, "oldest": now - stale}
                reserve = now + (pace_ms(lim, chat) if chat is not None else 0)
                left = await conn.execute(
                    _TRY_REPLY,
                    {**bounds, "now": now, "key": -now, "overall": lim.overall}
                    | {"chat": chat, "reserve": reserve, "paced": paced(chat)},
                )
                if left.first() is not None:
                    return -now, 0
            everything = (await conn.execute(_EVERYTHING)).scalar()
            counts = [(int(k), int(n)) for k, n in await conn.execute(_COUNT, bounds)]
            state = (await conn.execute(_CHAT_STATE, {"chat": chat})).first()
            await conn.rollback()
        wait = max((everything or 0) - now, _window_wait(counts, lim.overall, window, now))
        if state is not None:
            next_ms, busy = state
            wait = max(wait, BUSY_MS if busy else int(next_ms) - now)
        return None, min(max(wait, 5), 1000)

    async def answered(self, key: int, chat: int | None) -> None:
        now = now_ms(self.clock)
        pace = pace_ms(self.limits, chat) if chat is not None else 0
        # One statement, committed on its own (no BEGIN/COMMIT round trips).
        async with self.db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(_REPLIED, {"key": key, "now": now, "at": now + pace, "chat": chat})

    async def pause(self, chat: int, seconds: float) -> None:
        """Telegram's ``retry_after`` for ``chat`` (``0``: everything), where senders see it."""
        at = now_ms(self.clock) + int(seconds * 1000)
        async with self.db.engine.begin() as conn:
            await conn.execute(_PAUSE, {"chat": chat, "at": at})
