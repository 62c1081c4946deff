"""How the processes of the multi-process set divide the work without stepping on each other.

- :class:`ProcessRecord`: a row per running process in ``processes``, its heartbeat every second
  (who is alive, for the leases' fair shares, ``/health`` and the scale run's table).
- :class:`Leader`: one active process of a role (the ingest), elected with a PostgreSQL
  session-level advisory lock on a dedicated connection. The server drops the lock the moment
  that connection ends — a SIGKILLed leader's socket closes with it — and the standby, trying
  every ``poll`` seconds, leads within ``poll`` of that.
- :class:`DeskLocks`: one desk's orders, strategy cycle and recovery never run at once, across
  every process (advisory locks) or within the one process of the SQLite default (asyncio locks).
- :class:`~bot.processes.leases.StreamLeases` (re-exported here): which process holds each
  desk's private account stream, through expiring leases in ``stream_leases``.

Advisory-lock key space (two ``int4`` keys, which never overlap the one-``bigint`` key of the
single-instance lock in :mod:`bot.storage.db`): the first key is :data:`NAMESPACE` (22, this
issue's number) for everything here; the second is ``hashtext('leader:' || name)`` for a leader
and ``hashtext('desk:' || desk_id)`` for a desk, so a leader and a desk never share a key (short of
a 32-bit hash collision, which would only make the two wait for each other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock, now_ms
from bot.processes.leases import StreamLeases
from bot.storage.coordination import ProcessRow
from bot.storage.db import Database

__all__ = [
    "NAMESPACE",
    "DeskBusy",
    "DeskLocks",
    "Leader",
    "ProcessRecord",
    "StreamLeases",
    "asyncpg_dsn",
]

log = logging.getLogger("bot.processes")

#: The first advisory-lock key of every lock taken here (see the module docstring).
NAMESPACE = 22

#: A process whose heartbeat is older than this is gone (its row is pruned by the others).
STALE_MS = 60_000


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://u:p@h:5432/db`` (SQLAlchemy's spelling of ``DATABASE_URL``) →
    ``postgresql://u:p@h:5432/db``, which asyncpg and libpq take."""
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        raise ValueError("leader election needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)")
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------- processes


class ProcessRecord:
    """This process's row in ``processes``: inserted by :meth:`start`, its ``beat_ms`` renewed
    every :attr:`BEAT` seconds by a task this object owns, deleted by :meth:`stop`. A SIGKILLed
    process leaves its row behind; the others' heartbeats prune rows older than
    :data:`STALE_MS`."""

    BEAT = 1.0

    def __init__(self, db: Database, role: str, clock: Clock) -> None:
        if not role or len(role) > 16:
            raise ValueError(f"a process role is 1-16 characters, not {role!r}")
        self.db = db
        self.role = role
        self.clock = clock
        self.pid = os.getpid()
        self.host = socket.gethostname()
        tail = f"-{self.pid}-{secrets.token_hex(2)}"
        #: ``{role}-{hostname}-{pid}-{4 random hex}`` (the hostname shortened to fit 64).
        self.id = f"{role}-{self.host[: 64 - len(role) - 1 - len(tail)]}{tail}"
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Insert the row and start the heartbeat."""
        await self._insert()
        self._task = asyncio.create_task(self._beat(), name=f"heartbeat {self.id}")

    async def stop(self) -> None:
        """Stop the heartbeat and delete the row."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self.db.session() as s, s.begin():
            await s.execute(delete(ProcessRow).where(ProcessRow.id == self.id))

    async def _insert(self) -> None:
        now = now_ms(self.clock)
        async with self.db.session() as s, s.begin():
            s.add(
                ProcessRow(
                    id=self.id,
                    role=self.role,
                    pid=self.pid,
                    host=self.host[:255],
                    started_ms=now,
                    beat_ms=now,
                )
            )

    async def beat(self) -> None:
        """One heartbeat: renew ``beat_ms`` (the row again if someone pruned it while this
        process was stalled) and prune the rows of processes gone for :data:`STALE_MS`."""
        now = now_ms(self.clock)
        async with self.db.session() as s, s.begin():
            done = await s.execute(
                update(ProcessRow).where(ProcessRow.id == self.id).values(beat_ms=now)
            )
            await s.execute(delete(ProcessRow).where(ProcessRow.beat_ms < now - STALE_MS))
        if not getattr(done, "rowcount", 1):
            await self._insert()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.BEAT)
            try:
                await self.beat()
            except Exception as exc:  # the database is away: try again next beat
                log.warning("heartbeat of %s failed: %s", self.id, type(exc).__name__)

    @staticmethod
    async def live(
        db: Database, clock: Clock, *, role: str | None = None, within_ms: int = 5_000
    ) -> Sequence[ProcessRow]:
        """The processes (of ``role``) whose last heartbeat is at most ``within_ms`` old."""
        query = select(ProcessRow).where(ProcessRow.beat_ms >= now_ms(clock) - within_ms)
        if role is not None:
            query = query.where(ProcessRow.role == role)
        async with db.session() as s:
            return (await s.execute(query.order_by(ProcessRow.id))).scalars().all()


# --------------------------------------------------------------------------- leader


class Leader:
    """Leader election by ``pg_try_advisory_lock(22, hashtext('leader:' || name))`` on a
    dedicated asyncpg connection, held for as long as this process leads.

    ``await wait()`` returns once this process leads. From then on a watchdog asks the
    connection every ``poll`` seconds whether it still holds the lock; when the connection
    breaks (the server restarted, the backend was terminated, the network went) :attr:`lost` is
    set and the holder must stop leading at once — another process may lead already. It may
    call :meth:`wait` again to stand by.
    """

    def __init__(self, dsn: str, name: str, *, poll: float = 0.5) -> None:
        self.dsn = asyncpg_dsn(dsn)
        self.name = name
        self.poll = poll
        #: Set when the connection that held the lock broke: this process no longer leads.
        self.lost = asyncio.Event()
        #: Set once an attempt found another process leading (this one stands by).
        self.standby = asyncio.Event()
        self._conn: Any = None
        self._watch: asyncio.Task[None] | None = None
        self._leading = False

    @property
    def key(self) -> str:
        """The text whose ``hashtext`` is the lock's second key."""
        return f"leader:{self.name}"

    @property
    def leading(self) -> bool:
        """True while this process holds the lock (as far as the last check knows)."""
        return self._leading and not self.lost.is_set()

    async def wait(self) -> None:
        """Return when this process leads; tries every ``poll`` seconds, riding out a database
        that is away."""
        if self.leading:
            return
        self.lost.clear()
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self.dsn,
                        timeout=10,
                        server_settings={"application_name": self.key[:63]},
                    )
                if await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))",
                    NAMESPACE,
                    self.key,
                    timeout=10,
                ):
                    break
                self.standby.set()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("leader %s: cannot reach the database: %s", self.name, exc)
                await self._drop()
            await asyncio.sleep(self.poll)
        self._leading = True
        self.standby.clear()
        self._conn.add_termination_listener(self._terminated)
        self._watch = asyncio.create_task(self._watchdog(), name=f"leader {self.name}")
        log.info("leader %s: this process leads", self.name)

    def _terminated(self, _conn: Any) -> None:
        self._lose("the connection closed")

    def _lose(self, why: str) -> None:
        if self._leading and not self.lost.is_set():
            log.warning("leader %s: lost the lead: %s", self.name, why)
            self.lost.set()
        self._leading = False

    async def _watchdog(self) -> None:
        conn = self._conn
        while not self.lost.is_set():
            await asyncio.sleep(self.poll)
            try:
                held = await conn.fetchval(_HOLDS, NAMESPACE, self.key, timeout=max(2.0, self.poll))
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                held, why = False, f"{type(exc).__name__}: {exc}"
            else:
                why = "the lock is no longer held"
            if not held:
                self._lose(why)
                await self._drop()
                return

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # the server ends the session, and any lock it held

    async def close(self) -> None:
        """Release the lead (closing the connection releases the lock) and stop watching."""
        self._leading = False
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()


#: Does this session still hold the leader's lock? (A two-key advisory lock shows its keys in
#: ``pg_locks`` as classid, objid with objsubid 2.)
_HOLDS = """
SELECT EXISTS (
  SELECT 1 FROM pg_locks
  WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 2
    AND classid = $1::int4::oid AND objid = hashtext($2)::oid
)
"""


# --------------------------------------------------------------------------- desks


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


#: The desks each task holds, per :class:`DeskLocks` (so a holder can take its desk again: the
#: strategy cycle that holds its desk places orders through the path that takes it too).
_HELD: ContextVar[frozenset[tuple[int, str]]] = ContextVar("desks_held", default=frozenset())


class DeskLocks:
    """One desk's orders, strategy cycle and recovery never run at once.

    Always an ``asyncio.Lock`` per desk within the process; on PostgreSQL also a session-level
    advisory lock ``(22, hashtext('desk:' || desk_id))`` on a connection checked out of the
    engine's pool for the block (at most one per desk per process, thanks to the local lock),
    released in ``finally``; a dead process's locks vanish with its connections. Re-entrant
    within a task (and the tasks it starts inside the block).
    """

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        """``engine``: the database's, for locks across processes (PostgreSQL only); ``None``
        or SQLite: this process's locks only (the single-process default)."""
        shared = engine is not None and engine.dialect.name == "postgresql"
        self.engine = engine if shared else None
        self._local: dict[str, _Local] = {}

    @classmethod
    def of(cls, db: Database | None) -> DeskLocks:
        """The locks for ``db``: across processes on PostgreSQL, in-process on SQLite."""
        return cls(db.engine if db is not None else None)

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
        return (id(self), desk_id) in _HELD.get()

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
        token = _HELD.set(_HELD.get() | {(id(self), desk_id)})
        try:
            yield
        finally:
            _HELD.reset(token)

    @asynccontextmanager
    async def _local_lock(self, desk_id: str, patience: float | None) -> AsyncIterator[bool]:
        """This process's lock of ``desk_id``: waits up to ``patience`` s (``None``: not at all);
        the entry is forgotten when no one uses it."""
        entry = self._local.setdefault(desk_id, _Local(asyncio.Lock()))
        entry.users += 1
        try:
            got = False
            if patience is None:
                got = not entry.lock.locked() and await entry.lock.acquire()
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
            conn = await self._pg_try(engine, desk_id)
            if conn is None:
                raise DeskBusy(desk_id)
            return conn
        conn = await engine.connect()
        try:
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
            got = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:ns, hashtext(:k))"),
                    {"ns": NAMESPACE, "k": _desk_key(desk_id)},
                )
            ).scalar()
            await conn.commit()
        except BaseException:
            await _discard(conn)
            raise
        if not got:
            await conn.close()
            return None
        return conn


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
