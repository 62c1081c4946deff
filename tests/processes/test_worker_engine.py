"""The worker's job engine in procrastinate's terms: the libpq conninfo of ``DATABASE_URL``,
cron lines for the bot's intervals, and the schema applied once by workers starting together
(real PostgreSQL)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from croniter import croniter  # type: ignore[import-untyped]

from bot.processes.engine import EngineError, conninfo, ensure_schema, every


def test_conninfo_of_the_sqlalchemy_url() -> None:
    info = conninfo("postgresql+asyncpg://bot:s3cr%40t@db.example:6543/trading?ssl=require")
    parts = dict(p.split("=", 1) for p in info.split())
    assert parts == {
        "host": "db.example",
        "port": "6543",
        "dbname": "trading",
        "user": "bot",
        "password": "s3cr@t",
        "sslmode": "require",
    }


def test_conninfo_refuses_sqlite() -> None:
    with pytest.raises(EngineError, match="PostgreSQL"):
        conninfo("sqlite+aiosqlite:///./data/bot.db")


@pytest.mark.parametrize(
    ("seconds", "period"),
    [
        (1, 1),
        (5, 5),
        (7, 6),
        (30, 30),
        (60, 60),
        (90, 60),
        (300, 300),
        (3600, 3600),
        (86_400, 86_400),
    ],
)
def test_every_is_a_cron_period_never_longer(seconds: int, period: int) -> None:
    it = croniter(every(seconds), 1_700_000_000)
    first = it.get_next(float)
    assert it.get_next(float) - first == period


async def test_workers_starting_together_apply_the_schema_once(pg_url: str) -> None:
    dsn = conninfo(pg_url)
    applied = await asyncio.gather(*(ensure_schema(dsn) for _ in range(4)))
    assert sorted(applied) == [False, False, False, True]
    assert await ensure_schema(dsn) is False
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs")
        assert await cur.fetchone() == (0,)
