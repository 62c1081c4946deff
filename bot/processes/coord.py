"""How the processes of the multi-process set divide the work without stepping on each other.

- :class:`ProcessRecord`: a row per running process in ``processes``, its heartbeat every second
  (who is alive, for the leases' fair shares, ``/health`` and the scale run's table).
- :class:`Leader`: one active process of a role (the ingest), elected with a PostgreSQL
  session-level advisory lock on a dedicated connection. The server drops the lock the moment
  that connection ends — a SIGKILLed leader's socket closes with it — and the standby, trying
  every ``poll`` seconds, leads within ``poll`` of that.
- :class:`DeskLocks` (re-exported): one desk's orders, strategy cycle and recovery never run at
  once, across every process (advisory locks) or within the process of the SQLite default.
- :class:`~bot.processes.leases.StreamLeases` (re-exported here): which process holds each
  desk's private account stream, through expiring leases in ``stream_leases``.

The desk locks live in :mod:`bot.storage.desk_locks` (the order path uses them in every mode);
its docstring documents the advisory-lock key space: ``(22, hashtext('leader:' || name))`` for a
leader, ``(22, hashtext('desk:' || desk_id))`` for a desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import delete, select, update
from sqlalchemy.engine import make_url

from bot.clock import Clock, now_ms
from bot.processes.leases import StreamLeases
from bot.storage.coordination import ProcessRow
from bot.storage.db import Database
from bot.storage.desk_locks import NAMESPACE, DeskBusy, DeskLocks

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

#: A process whose heartbeat is older than this is gone (its row is pruned by the others).
STALE_MS = 60_000


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://u:p@h:5432/db`` (SQLAlchemy's spelling of ``DATABASE_URL``) →
    ``postgresql://u:p@h:5432/db``, which asyncpg and libpq take."""
    u = make_url(url)
    if u.get_backend_name() not in ("postgresql", "postgres"):
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
        try:
            async with self.db.session() as s, s.begin():
                await s.execute(delete(ProcessRow).where(ProcessRow.id == self.id))
        except Exception as exc:  # shutting down without the database: pruned by the others
            log.warning("process row %s not deleted: %s", self.id, type(exc).__name__)

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
        #: How many times the watchdog found the lock still held (since this process leads).
        self.checks = 0
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
        that is away (then every ``poll`` doubled per failure, up to 5 s, said once)."""
        if self.leading:
            return
        self.lost.clear()
        failures = 0
        while True:
            pause = self.poll
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
                failures = 0
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if not failures:
                    log.warning("leader %s: cannot reach the database: %s", self.name, exc)
                failures += 1
                pause = min(5.0, self.poll * 2**failures)
                await self._drop()
            await asyncio.sleep(pause)
        self._leading = True
        self.checks = 0
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
            self.checks += 1

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
