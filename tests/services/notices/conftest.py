"""The outbox table's tests run on a real PostgreSQL (the storage tests' server and fresh
databases) against a small Bot API over HTTP (:mod:`tests.services.notices.botapi`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.db import Database
from tests.services.notices.botapi import BotApi
from tests.storage.conftest import pg_url, postgres

__all__ = ["api", "db_url", "pg_url", "postgres"]


@pytest.fixture
async def db_url(pg_url: str) -> str:
    """A migrated fresh database."""
    db = Database(pg_url)
    await db.start()
    await db.close()
    return pg_url


@pytest.fixture
async def api() -> AsyncIterator[BotApi]:
    async with BotApi() as fake:
        yield fake
