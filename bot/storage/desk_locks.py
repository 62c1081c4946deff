"""Desk locks: one desk's orders, strategy cycle and recovery never run at once — across every
process of the multi-process set on PostgreSQL, within the one process of the SQLite default.

Advisory-lock key space (two ``int4`` keys, which never overlap the one-``bigint`` key of the
single-instance lock in :mod:`bot.storage.db`): the first key is :data:`NAMESPACE` (22, the
issue that brought several processes) for every coordination lock; the second is
``hashtext('desk:' || desk_id)`` for a desk and ``hashtext('leader:' || name)`` for a leader
(:class:`bot.processes.coord.Leader`), so a leader and a desk never share a key (short of a 32-bit
hash collision, which would only make the two wait for each other).

Lock order: a desk's lock before the strategy service's own lock. The order path takes the desk
inside the strategy lock only as a holder that already has it (re-entrant) or in the single
process, where nothing takes them the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.storage.db import Database

#: The first advisory-lock key of every coordination lock (see the module docstring).
NAMESPACE = 22


class DeskBusy(RuntimeError):
    """A desk's lock was not free within the time allowed; ``text`` is the sentence for the
    user."""

    def __init__(self, desk_id: str) -> None:
        self.desk_id = desk_id
        self.text = "Another order on this desk is still being placed; try again in a moment."
        super().__init__(f"desk {desk_id} is busy")


@dataclass
class _Local:
    lock: asyncio.Lock
    users: int = 0


class DeskLocks:
    """One desk's orders, strategy cycle and recovery never run at once.

    Always an ``asyncio.Lock`` per desk within the process; on PostgreSQL also a session-level
    advisory lock ``(22, hashtext('desk:' || desk_id))`` on a connection checked out of a pool
    for the block (at most one per desk per process, thanks to the local lock), released in
    ``finally``; a dead process's locks vanish with its connections. Re-entrant within the
    holding task (only: a task it starts inside the block waits like any other).
    """

    def __init__(self, engine: AsyncEngine | None = None, *, owned: bool = False) -> None:
        """``engine``: where the locks are taken, for locks across processes (PostgreSQL only;
        ``owned``: :meth:`close` disposes it); ``None`` or SQLite: this process's locks only
        (the single-process default)."""
        shared = engine is not None and engine.dialect.name == "postgresql"
        self.engine = engine if shared else None
        self._owned = owned and shared
        self._local: dict[str, _Local] = {}
        self._holders: dict[str, asyncio.Task[Any] | None] = {}

    @classmethod
    def of(cls, db: Database | None, *, pool: int = 50) -> DeskLocks:
        """The locks for ``db``: across processes on PostgreSQL, in-process on SQLite.

        On PostgreSQL the locks get an engine of their own (up to ``pool`` connections, opened
        as needed): a holder keeps its lock's connection for the whole block and its work takes
        more from the database's pool, so sharing one pool could leave every connection with a
        holder waiting for a second one. :meth:`close` it with the database."""
        if db is None or db.engine.dialect.name != "postgresql":
            return cls()
        engine = create_async_engine(
            db.url, pool_size=min(pool, 5), max_overflow=max(0, pool - 5), hide_parameters=True
        )
        return cls(engine, owned=True)

    async def close(self) -> None:
        """Dispose of the locks' own engine (when :meth:`of` made one)."""
        if self._owned and self.engine is not None:
            await self.engine.dispose()

    @property
    def shared(self) -> bool:
        """True when the locks hold across processes."""
        return self.engine is not None

    def hold(self, desk_id: str, *, timeout: float = 30.0) -> AbstractAsyncContextManager[None]:
        """Hold ``desk_id`` for the block, waiting up to ``timeout`` seconds; raises
        :class:`DeskBusy` when it stays taken."""
        return self._hold(desk_id, timeout)

    def try_hold(self, desk_id: str) -> AbstractAsyncContextManager[bool]:
        """Hold ``desk_id`` for the block if it is free now: the block gets True; False (and
        nothing held) when someone has it."""
        return self._try_hold(desk_id)

    def held_here(self, desk_id: str) -> bool:
        """True when this task already holds ``desk_id``."""
        task = asyncio.current_task()
        return task is not None and self._holders.get(desk_id) is task

    @asynccontextmanager
    async def _hold(self, desk_id: str, patience: float) -> AsyncIterator[None]:
        if self.held_here(desk_id):
            yield
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        async with self._local_lock(desk_id, patience) as got:
            if not got:
                raise DeskBusy(desk_id)
            conn = None
            if self.engine is not None:
                conn = await self._pg_lock(self.engine, desk_id, deadline - loop.time())
            try:
                with self._entered(desk_id):
                    yield
            finally:
                if conn is not None:
                    await _pg_unlock(conn, desk_id)

    @asynccontextmanager
    async def _try_hold(self, desk_id: str) -> AsyncIterator[bool]:
        if self.held_here(desk_id):
            yield True
            return
        async with self._local_lock(desk_id, None) as got:
            conn = None
            if got and self.engine is not None:
                conn = await self._pg_try(self.engine, desk_id)
            try:
                if got and (conn is not None or self.engine is None):
                    with self._entered(desk_id):
                        yield True
                else:
                    yield False
            finally:
                if conn is not None:
                    await _pg_unlock(conn, desk_id)

    @contextlib.contextmanager
    def _entered(self, desk_id: str) -> Iterator[None]:
        """Mark this task the desk's holder (so it can take the desk again: the strategy cycle
        that holds its desk places orders through the path that takes it too). Per task, not
        per context: a task started inside the block does not hold the desk."""
        self._holders[desk_id] = asyncio.current_task()
        try:
            yield
        finally:
            self._holders.pop(desk_id, None)

    @asynccontextmanager
    async def _local_lock(self, desk_id: str, patience: float | None) -> AsyncIterator[bool]:
        """This process's lock of ``desk_id``: waits up to ``patience`` s (``None``: not at all);
        the entry is forgotten when no one uses it."""
        entry = self._local.setdefault(desk_id, _Local(asyncio.Lock()))
        entry.users += 1
        try:
            got = False
            if patience is None:
                # no one holds or waits (a waiter would be served first): taken at once
                got = entry.users == 1 and not entry.lock.locked() and await entry.lock.acquire()
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(patience, 0.0)):
                        got = await entry.lock.acquire()
            try:
                yield got
            finally:
                if got:
                    entry.lock.release()
        finally:
            entry.users -= 1
            if not entry.users:
                self._local.pop(desk_id, None)

    async def _pg_lock(self, engine: AsyncEngine, desk_id: str, patience: float) -> AsyncConnection:
        """The advisory lock, waited for on the server (``lock_timeout``: woken the moment it is
        released); :class:`DeskBusy` when ``patience`` seconds pass first."""
        if patience <= 0:
            found = await self._pg_try(engine, desk_id)
            if found is None:
                raise DeskBusy(desk_id)
            return found
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        try:
            async with asyncio.timeout(patience):
                conn = await engine.connect()  # a pool that is all taken is waited for too
        except TimeoutError:
            raise DeskBusy(desk_id) from None
        patience = deadline - loop.time()  # what is left, at least 1 ms: then one try
        try:
            if await _try_on(conn, desk_id):  # free (the usual case): one statement
                return conn
            await conn.execute(
                text("SELECT set_config('lock_timeout', :t, true)"),
                {"t": f"{max(1, int(patience * 1000))}ms"},
            )
            await conn.execute(
                text("SELECT pg_advisory_lock(:ns, hashtext(:k))"),
                {"ns": NAMESPACE, "k": _desk_key(desk_id)},
            )
            await conn.commit()  # the session-level lock outlives the transaction
        except DBAPIError as exc:
            await _discard(conn)
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise DeskBusy(desk_id) from None
            raise
        except BaseException:
            await _discard(conn)  # cancelled mid-wait: the lock may have been granted
            raise
        return conn

    async def _pg_try(self, engine: AsyncEngine, desk_id: str) -> AsyncConnection | None:
        conn = await engine.connect()
        try:
            got = await _try_on(conn, desk_id)
        except BaseException:
            await _discard(conn)
            raise
        if not got:
            await conn.close()
            return None
        return conn


async def _try_on(conn: AsyncConnection, desk_id: str) -> bool:
    """``pg_try_advisory_lock`` on ``conn`` (its transaction ended, the session's lock kept)."""
    got = (
        await conn.execute(
            text("SELECT pg_try_advisory_lock(:ns, hashtext(:k))"),
            {"ns": NAMESPACE, "k": _desk_key(desk_id)},
        )
    ).scalar()
    await conn.commit()
    return bool(got)


def _desk_key(desk_id: str) -> str:
    return f"desk:{desk_id}"


async def _pg_unlock(conn: AsyncConnection, desk_id: str) -> None:
    """Release the lock and return the connection to the pool; a connection that cannot say it
    released is closed instead (which releases it), never pooled still holding it."""
    try:
        await conn.execute(
            text("SELECT pg_advisory_unlock(:ns, hashtext(:k))"),
            {"ns": NAMESPACE, "k": _desk_key(desk_id)},
        )
        await conn.commit()
    except BaseException:
        await _discard(conn)
        raise
    await conn.close()


async def _discard(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.invalidate()  # closes the DBAPI connection: the session and its locks end
    with contextlib.suppress(Exception):
        await conn.close()
