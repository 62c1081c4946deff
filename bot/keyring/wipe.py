"""Make replaced or deleted secrets leave the database's files, not only its tables."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.storage.db import Database


async def scrub(db: Database) -> None:
    """SQLite: rebuild the file (``VACUUM``) and truncate the WAL, so a replaced or deleted
    value's bytes are not left in a free page or an old WAL frame. Other databases keep old row
    versions until their own vacuum (see the README)."""
    url = make_url(db.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.exec_driver_sql("VACUUM")
        await auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
