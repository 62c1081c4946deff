"""Telegram updates taken in: each ``update_id`` is handled once, and none is lost.

Telegram delivers a webhook update again when it did not get a timely ``200``, and several web
processes (issue 22) may each receive the same update. Rows are kept for :data:`KEEP_MS`
(Telegram gives up redelivering long before) and then pruned daily.

- The single process (:meth:`SeenUpdates.first_time`, :mod:`handlers.dedupe`) records the id
  before handling it, as handled: a redelivery (after a slow answer) is dropped. This is the
  behaviour the single process has always had; an update it was handling when killed is not
  handled again after its restart.
- A web process (:class:`UpdateClaims`) *claims* the id: the row names its
  ``processes`` id in ``claimed_by`` with ``handled_ms`` NULL, and is marked handled once the
  update is. A redelivery is dropped while the row is handled or its claimer is alive (a
  heartbeat within :data:`CLAIM_ALIVE_MS`); when the claimer is dead (SIGKILLed mid-update) the
  redelivery takes the claim over and is handled.

Each step is one statement whose result says who won, so two processes racing see one winner:
the insert's ``ON CONFLICT DO NOTHING RETURNING`` (the primary key decides) and the take-over's
``UPDATE … WHERE claimed_by = <the dead claimer> AND handled_ms IS NULL … RETURNING`` (a
compare-and-set: PostgreSQL re-checks the condition on the row the first winner wrote, which
names the winner, so the second taker updates nothing).
"""

from __future__ import annotations

import logging

from sqlalchemy import BigInteger, Insert, String, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import Clock, now_ms
from bot.storage.base import Base
from bot.storage.coordination import ProcessRow
from bot.storage.db import Database

log = logging.getLogger("bot.dedupe")

#: How long an update id is remembered: a week.
KEEP_MS = 7 * 24 * 3600 * 1000
#: A claimer whose heartbeat (every second, :class:`bot.processes.coord.ProcessRecord`) is at
#: most this old is alive and still working on its update; older, it is dead.
CLAIM_ALIVE_MS = 5_000


class SeenUpdate(Base):
    """One update the bot has taken in: who claimed it (a web process) and when it was handled
    (``None`` while the claimer works on it)."""

    __tablename__ = "seen_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    handled_ms: Mapped[int | None] = mapped_column(BigInteger)


def _insert(db: Database, values: dict[str, object]) -> Insert:
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(SeenUpdate).values(**values).on_conflict_do_nothing()
    return sqlite.insert(SeenUpdate).values(**values).on_conflict_do_nothing()


class SeenUpdates:
    """The record of update ids taken in (the single process)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def first_time(self, update_id: int) -> bool:
        """Record ``update_id`` (as handled); True when no one recorded it before (handle it),
        False for a repeat (drop it)."""
        now = now_ms(self.clock)
        insert = _insert(self.db, {"update_id": update_id, "seen_at_ms": now, "handled_ms": now})
        async with self.db.session() as s, s.begin():
            result = await s.execute(insert.returning(SeenUpdate.update_id))
            return result.first() is not None

    async def prune(self) -> int:
        """Forget ids older than :data:`KEEP_MS`; returns how many."""
        cutoff = now_ms(self.clock) - KEEP_MS
        async with self.db.session() as s, s.begin():
            result = await s.execute(delete(SeenUpdate).where(SeenUpdate.seen_at_ms < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)


class UpdateClaims:
    """One web process's claims on the updates it handles; ``claimer`` is its ``processes`` id."""

    def __init__(self, db: Database, clock: Clock, claimer: str) -> None:
        self.db = db
        self.clock = clock
        self.claimer = claimer

    async def claim(self, update_id: int) -> bool:
        """True when this process is to handle ``update_id`` (a new one, or one whose claimer
        died before handling it); False for a repeat to drop (handled, or being handled)."""
        now = now_ms(self.clock)
        values = {"update_id": update_id, "seen_at_ms": now, "claimed_by": self.claimer}
        async with self.db.session() as s, s.begin():
            won = await s.execute(_insert(self.db, values).returning(SeenUpdate.update_id))
            if won.first() is not None:
                return True
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(SeenUpdate.claimed_by, SeenUpdate.handled_ms).where(
                        SeenUpdate.update_id == update_id
                    )
                )
            ).first()
        if row is None:  # pruned in between (a week old): take it in afresh
            return await self.claim(update_id)
        claimed_by, handled_ms = row
        if handled_ms is not None or claimed_by is None or claimed_by == self.claimer:
            return False
        alive = exists().where(
            ProcessRow.id == claimed_by, ProcessRow.beat_ms >= now - CLAIM_ALIVE_MS
        )
        take = (
            update(SeenUpdate)
            .where(
                SeenUpdate.update_id == update_id,
                SeenUpdate.handled_ms.is_(None),
                SeenUpdate.claimed_by == claimed_by,
                ~alive,
            )
            .values(claimed_by=self.claimer)
            .returning(SeenUpdate.update_id)
        )
        async with self.db.session() as s, s.begin():
            taken = (await s.execute(take)).first() is not None
        if taken:
            log.warning(
                "update %s was claimed by %s, which died before handling it; taken over",
                update_id,
                claimed_by,
            )
        return taken

    async def handled(self, update_id: int) -> None:
        """Mark ``update_id`` handled (a redelivery is dropped from now on)."""
        mark = (
            update(SeenUpdate)
            .where(SeenUpdate.update_id == update_id, SeenUpdate.claimed_by == self.claimer)
            .values(handled_ms=now_ms(self.clock))
        )
        async with self.db.session() as s, s.begin():
            done = await s.execute(mark)
        if not getattr(done, "rowcount", 1):  # taken over while this process seemed dead
            log.warning("update %s was handled here after another process took it", update_id)

    async def release(self, update_id: int) -> None:
        """Give up an unhandled claim (handling failed): a redelivery is handled afresh."""
        drop = delete(SeenUpdate).where(
            SeenUpdate.update_id == update_id,
            SeenUpdate.claimed_by == self.claimer,
            SeenUpdate.handled_ms.is_(None),
        )
        async with self.db.session() as s, s.begin():
            await s.execute(drop)
