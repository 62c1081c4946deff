"""Migration 0012_desks: over a 0011 database, matching the models, and back down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage.db import MIGRATIONS, Database
from bot.storage.models import load_all

TABLES = {"desks", "desk_members", "desk_invites", "desk_choice"}


def _alembic(action: Callable[[Config, str], None], revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        action(cfg, revision)

    return run


def _desk_diffs(connection: Connection) -> list[Any]:
    def ours(obj: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        table = obj.table.name if kind in ("column", "index") else name
        return table in TABLES

    ctx = MigrationContext.configure(
        connection, opts={"include_object": ours, "compare_type": True}
    )
    return list(compare_metadata(ctx, load_all().metadata))


async def test_0012_upgrades_a_0011_database_matches_the_models_and_downgrades_sqlite(
    tmp_path: Path,
) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")


async def test_0012_upgrades_a_0011_database_matches_the_models_and_downgrades_postgresql(
    pg_url: str,
) -> None:
    await _check(pg_url)


async def _check(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_alembic(command.upgrade, "0011_strategy_pause"))
            await conn.run_sync(_alembic(command.upgrade, "0012_desks"))
            names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert names >= TABLES
            rows = (await conn.execute(sa.text("SELECT id, name FROM desks"))).all()
            assert [tuple(r) for r in rows] == [("operator", "Operator desk")]
            assert await conn.run_sync(_desk_diffs) == []
            await conn.run_sync(_alembic(command.downgrade, "0011_strategy_pause"))
            names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert not TABLES & names
    finally:
        await db.close()
