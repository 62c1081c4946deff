"""Telegram updates already taken in: each ``update_id`` is handled once.

Telegram delivers a webhook update again when it did not get a timely ``200``, and several web
processes (issue 22) may each receive the same update. Before anything handles an update its id
is inserted here; the insert itself answers "is this new?" (``INSERT … ON CONFLICT DO NOTHING
RETURNING``), so two processes or two tasks racing on one id see exactly one winner — the
database's primary key decides, on SQLite and on PostgreSQL alike. Rows are kept for
:data:`KEEP_MS` (Telegram gives up redelivering long before) and then pruned daily.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Insert, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import Clock, now_ms
from bot.storage.base import Base
from bot.storage.db import Database

#: How long an update id is remembered: a week.
KEEP_MS = 7 * 24 * 3600 * 1000


class SeenUpdate(Base):
    """One update the bot has taken in."""

    __tablename__ = "seen_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class SeenUpdates:
    """The record of update ids taken in."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def first_time(self, update_id: int) -> bool:
        """Record ``update_id``; True when no one recorded it before (handle it), False for a
        repeat (drop it)."""
        values = {"update_id": update_id, "seen_at_ms": now_ms(self.clock)}
        insert: Insert
        if self.db.engine.dialect.name == "postgresql":
            insert = postgresql.insert(SeenUpdate).values(**values).on_conflict_do_nothing()
        else:
            insert = sqlite.insert(SeenUpdate).values(**values).on_conflict_do_nothing()
        async with self.db.session() as s, s.begin():
            result = await s.execute(insert.returning(SeenUpdate.update_id))
            return result.first() is not None

    async def prune(self) -> int:
        """Forget ids older than :data:`KEEP_MS`; returns how many."""
        cutoff = now_ms(self.clock) - KEEP_MS
        async with self.db.session() as s, s.begin():
            result = await s.execute(delete(SeenUpdate).where(SeenUpdate.seen_at_ms < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
