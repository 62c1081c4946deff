"""The record of updates taken in, on SQLite and on a real PostgreSQL server: one winner per
``update_id`` however many deliveries race (two engines stand for two web processes), and ids
older than a week are forgotten."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.storage.db import Database
from bot.storage.updates import SeenUpdates
from tests.bot.conftest import TOKEN
from tests.bot.test_dedupe import redeliveries_are_answered_once
from tests.fakes.telegram import FakeTelegram


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_concurrent_deliveries_of_one_update_have_one_winner(url: str) -> None:
    clock = FakeClock()
    first, second = Database(url, clock=clock), Database(url, clock=clock)
    try:
        await first.start()
        a, b = SeenUpdates(first, clock), SeenUpdates(second, clock)
        for update_id in (1, 2**40, 3):  # Telegram's ids outgrow 32 bits
            tries = [(a if i % 2 else b).first_time(update_id) for i in range(8)]
            answers = await asyncio.gather(*tries)
            assert sorted(answers) == [False] * 7 + [True], update_id
        assert not await a.first_time(1)
        assert await b.first_time(4)
    finally:
        await first.close()
        await second.close()


async def test_ids_older_than_a_week_are_forgotten(url: str) -> None:
    clock = FakeClock()
    db = Database(url, clock=clock)
    try:
        await db.start()
        seen = SeenUpdates(db, clock)
        assert await seen.first_time(10)
        clock.advance(6 * 86400)
        assert await seen.first_time(11)
        clock.advance(86400 + 1)
        assert await seen.prune() == 1  # 10 is eight days old, 11 two
        assert await seen.first_time(10)  # forgotten: taken in again
        assert not await seen.first_time(11)
    finally:
        await db.close()


async def test_the_bot_on_postgresql_answers_a_redelivered_update_once(
    pg_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram(TOKEN) as tg:
        await redeliveries_are_answered_once(tg, tmp_path, pg_url)
