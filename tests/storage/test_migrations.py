"""Migrations over data written by the previous version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.storage.alerts import AlertStore
from bot.storage.db import MIGRATIONS, Database


def _upgrade_to(revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    return run


async def test_0007_a_stored_fills_on_becomes_the_roles_default_and_off_stays(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_upgrade_to("0006_venue"))
            for user, fills in ((1, True), (2, False)):
                await conn.execute(
                    sa.text(
                        "INSERT INTO notify_settings (user_id, chat_id, funding, positions, "
                        "fills, digest) VALUES (:u, :u, 1, 1, :f, 0)"
                    ),
                    {"u": user, "f": fills},
                )
        await db.start()
        store = AlertStore(db)
        chose_nothing, muted = await store.settings(1), await store.settings(2)
        assert (chose_nothing.fills, chose_nothing.strategy) == (None, None)
        assert (muted.fills, muted.strategy) == (False, None)
    finally:
        await db.close()
