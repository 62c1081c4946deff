"""The database: async engine, sessions, migrations at start-up, the single-instance lock."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.clock import Clock, SystemClock
from bot.storage.core import AppMeta, InstanceLock

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_STALE_MS = 60_000


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
        self.engine: AsyncEngine = create_async_engine(self.url)
        if u.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.owner = uuid.uuid4().hex
        self._lock_name: str | None = None

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
        """Claim this token+database; refuse when another live instance holds it."""
        name = hashlib.sha256(token.encode()).hexdigest()[:32]  # never store the token itself
        now = int(self.clock.time() * 1000)
        async with self.session() as s, s.begin():
            row = await s.get(InstanceLock, name)
            if row is None:
                s.add(InstanceLock(name=name, owner=self.owner, heartbeat_ms=now))
            elif row.owner != self.owner and now - row.heartbeat_ms < LOCK_STALE_MS:
                raise InstanceLocked(
                    "another backpack-bot is already running with this bot token and database "
                    f"(last seen {(now - row.heartbeat_ms) / 1000:.0f}s ago); stop it first"
                )
            else:
                row.owner = self.owner
                row.heartbeat_ms = now
        self._lock_name = name

    async def heartbeat(self) -> None:
        if self._lock_name is None:
            return
        now = int(self.clock.time() * 1000)
        async with self.session() as s, s.begin():
            await s.execute(
                update(InstanceLock)
                .where(InstanceLock.name == self._lock_name, InstanceLock.owner == self.owner)
                .values(heartbeat_ms=now)
            )

    async def release_lock(self) -> None:
        if self._lock_name is None:
            return
        try:
            async with self.session() as s, s.begin():
                await s.execute(
                    delete(InstanceLock).where(
                        InstanceLock.name == self._lock_name, InstanceLock.owner == self.owner
                    )
                )
        except IntegrityError:  # pragma: no cover - nothing to release
            pass
        self._lock_name = None

    async def lock_owner(self, token: str) -> str | None:
        name = hashlib.sha256(token.encode()).hexdigest()[:32]
        async with self.session() as s:
            row = (await s.execute(select(InstanceLock).where(InstanceLock.name == name))).scalar()
            return row.owner if row else None


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
