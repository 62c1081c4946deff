"""The database: async engine, sessions, migrations at start-up, the single-instance lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
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
    """Another bot already runs with this token and database."""


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
        """Apply every Alembic migration (idempotent)."""
        async with self.engine.begin() as conn:
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

    async def acquire_lock(self, token: str) -> None:
        """Claim this token+database; refuse when another live process holds it.

        The lock is one the operating system or the database server releases when the holder
        dies, so a ``kill -9`` never blocks the restart: an ``fcntl`` lock on a file beside a
        SQLite database, a session-level advisory lock on PostgreSQL (held by one dedicated
        connection for the life of the process). An in-memory SQLite database is private to
        its process and needs none.
        """
        name = hashlib.sha256(token.encode()).hexdigest()[:32]  # never store the token itself
        u = make_url(self.url)
        if u.get_backend_name() == "sqlite":
            if u.database and u.database != ":memory:":
                self._file_lock(Path(f"{u.database}.{name[:12]}.lock"))
        elif u.get_backend_name() == "postgresql":
            await self._advisory_lock(name)

    def _file_lock(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InstanceLocked(_LOCKED) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    async def _advisory_lock(self, name: str) -> None:
        key = int.from_bytes(bytes.fromhex(name[:16]), "big", signed=True)
        conn = await self.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        await conn.commit()
        if not got:
            await conn.close()
            raise InstanceLocked(_LOCKED)
        self._lock_conn = conn

    async def release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):
                await self._lock_conn.close()  # the session ends, and its advisory lock with it
            self._lock_conn = None


_LOCKED = "another backpack-bot is already running with this bot token and database; stop it first"


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
