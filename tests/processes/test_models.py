"""The coordination models match migration 0017_coordination, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.models import load_all

TABLES = {"processes", "stream_leases"}


def _diffs(connection: Connection) -> list[Any]:
    def ours(obj: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        table = obj.table.name if kind in ("column", "index") else name
        return table in TABLES

    ctx = MigrationContext.configure(
        connection, opts={"include_object": ours, "compare_type": True}
    )
    return list(compare_metadata(ctx, load_all().metadata))


async def _check(url: str) -> None:
    db = Database(url)
    try:
        await db.start()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
    finally:
        await db.close()


async def test_the_models_match_the_migration_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")


async def test_the_models_match_the_migration_on_postgresql(pg_url: str) -> None:
    await _check(pg_url)
