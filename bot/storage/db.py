"""The database: async engine, sessions, migrations at start-up, the single-instance lock."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.clock import Clock, SystemClock
from bot.storage.core import AppMeta

MIGRATIONS = Path(__file__).parent / "migrations"


class InstanceLocked(RuntimeError):
    """Another bot process already runs on this database."""


def _url(url: str) -> str:
    """Promote plain driver names to their async drivers."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


class Database:
    """Owns the engine; ``await start()`` migrates, ``await close()`` disposes."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = _url(url)
        self.clock = clock or SystemClock()
        u = make_url(self.url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a statement's parameters (secrets among them) stay out of exception
        # texts, which the error handler logs.
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True)
        if u.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._lock_fd: int | None = None
        self._lock_conn: AsyncConnection | None = None

    async def start(self) -> None:
        """Apply every Alembic migration (idempotent).

        On PostgreSQL several processes of the set may start at once: a transaction-level
        advisory lock makes them migrate one after the other (the later ones find nothing to
        do); the migrations run in that same transaction, so a crash leaves nothing half done.
        """
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(22, 0)"))
            await conn.run_sync(_upgrade)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as s:
            yield s

    async def close(self) -> None:
        await self.release_lock()
        await self.engine.dispose()

    # ------------------------------------------------------------------ key/value

    async def get_meta(self, key: str) -> str | None:
        async with self.session() as s:
            row = await s.get(AppMeta, key)
            return row.value if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.session() as s, s.begin():
            row = await s.get(AppMeta, key)
            if row is None:
                s.add(AppMeta(key=key, value=value))
            else:
                row.value = value

    # ------------------------------------------------------------------ single instance

    async def acquire_lock(self) -> None:
        """Claim this database for this process; refuse when another live process holds it.

        One bot per database, whatever its token: two processes on one database would settle
        each other's interrupted orders and trade the same account twice. The lock is one the
        operating system or the database server releases when the holder dies, so a ``kill -9``
        never blocks the restart: an ``fcntl`` lock on ``<database file>.lock`` beside a SQLite
        database, a session-level advisory lock on a fixed key on PostgreSQL (held by one
        dedicated connection for the life of the process; advisory locks are per database). An
        in-memory SQLite database is private to its process and needs none.
        """
        u = make_url(self.url)
        if u.get_backend_name() == "sqlite":
            if u.database and u.database != ":memory:":
                self._file_lock(Path(u.database))
        elif u.get_backend_name() == "postgresql":
            await self._advisory_lock()

    def _file_lock(self, database: Path) -> None:
        path = lock_path(database)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InstanceLocked(_locked(str(database))) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        _remove_token_locks(database)

    async def _advisory_lock(self) -> None:
        conn = await self.engine.connect()
        query = text("SELECT pg_try_advisory_lock(:k)")
        got = (await conn.execute(query, {"k": ADVISORY_KEY})).scalar()
        await conn.commit()
        if not got:
            await conn.close()
            u = make_url(self.url)
            where = f"PostgreSQL database {u.database} on {u.host or 'localhost'}:{u.port or 5432}"
            raise InstanceLocked(_locked(where))
        self._lock_conn = conn

    async def release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):
                await self._lock_conn.close()  # the session ends, and its advisory lock with it
            self._lock_conn = None


#: The advisory-lock key of "this database belongs to one bot" on PostgreSQL: fixed, so every
#: process on the database contends for the same lock whatever its token (``b"bpbot-db"``).
ADVISORY_KEY = int.from_bytes(b"bpbot-db", "big", signed=True)

#: What the old per-token locks were called: ``bot.db.<12 hex>.lock``.
_TOKEN_LOCK = re.compile(r"\.[0-9a-f]{12}\.lock$")


def lock_path(database: Path) -> Path:
    """The one lock file of a SQLite database: ``bot.db`` → ``bot.db.lock``."""
    return database.with_name(database.name + ".lock")


def _locked(where: str) -> str:
    return (
        f"another backpack-bot is already running on this database ({where}); "
        "one bot per database: stop the other one first, or give this one its own DATABASE_URL"
    )


def _remove_token_locks(database: Path) -> None:
    """Delete the per-token lock files earlier versions left beside the database (one per run
    in local-chat mode); we hold the database's lock, so nothing needs them."""
    for old in database.parent.glob(f"{glob.escape(database.name)}.*.lock"):
        if _TOKEN_LOCK.search(old.name[len(database.name) :]):
            with contextlib.suppress(OSError):
                old.unlink()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL + synchronous=NORMAL: durable across crashes of the process, one fsync per
    checkpoint instead of per commit (each tap commits several times)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    from alembic import command  # imported on use: only start-up needs it
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
