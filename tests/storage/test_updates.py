"""The record of updates taken in, on SQLite and on a real PostgreSQL server: one winner per
``update_id`` however many deliveries race (two engines stand for two web processes), a web
process's claim taken over only once its claimer is dead (one winner again), and ids older than
a week are forgotten."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.clock import FakeClock, now_ms
from bot.storage.coordination import ProcessRow
from bot.storage.db import Database
from bot.storage.models import load_all
from bot.storage.updates import CLAIM_ALIVE_MS, SeenUpdate, SeenUpdates, UpdateClaims
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


async def _beat(db: Database, clock: FakeClock, *ids: str) -> None:
    """The processes ``ids`` beat now (their rows in ``processes``, as ProcessRecord keeps)."""
    async with db.session() as s, s.begin():
        for pid in ids:
            row = await s.get(ProcessRow, pid)
            if row is None:
                row = ProcessRow(id=pid, role="web", pid=1, host="h", started_ms=0, beat_ms=0)
                s.add(row)
            row.beat_ms = now_ms(clock)


async def test_a_claim_is_taken_over_only_from_a_dead_claimer(url: str) -> None:
    clock = FakeClock()
    db = Database(url, clock=clock)
    try:
        await db.start()
        a, b = UpdateClaims(db, clock, "web-a"), UpdateClaims(db, clock, "web-b")
        await _beat(db, clock, "web-a", "web-b")
        assert await a.claim(7)
        assert not await a.claim(7)  # a redelivery to the claimer itself, still at it
        assert not await b.claim(7)  # the claimer is alive: it answers
        clock.advance(CLAIM_ALIVE_MS / 1000)
        assert not await b.claim(7)  # its last beat is just within the window
        clock.advance(0.001)
        assert await b.claim(7)  # a is dead (SIGKILLed): b handles the update
        await _beat(db, clock, "web-b")
        assert not await a.claim(7)  # b is the claimer now, alive
        await b.handled(7)
        clock.advance(60)
        assert not await a.claim(7)  # handled: dropped even with b dead
        # b has not beaten for a minute: its claim on 8 is taken over
        await _beat(db, clock, "web-a")
        assert await b.claim(8)
        assert await a.claim(8)
        await a.handled(8)
        await b.handled(8)  # b's late mark (it was not dead after all) changes nothing
        async with db.session() as s:
            row = await s.get(SeenUpdate, 8)
            assert row is not None and (row.claimed_by, row.handled_ms) == ("web-a", now_ms(clock))
        # a claim given up (handling failed) is taken in afresh by a redelivery
        assert await a.claim(9)
        await a.release(9)
        assert await b.claim(9)
        # the single process's record counts as handled for the web processes
        assert await SeenUpdates(db, clock).first_time(10)
        assert not await b.claim(10)
    finally:
        await db.close()


async def test_concurrent_redeliveries_of_a_dead_claim_have_one_winner(url: str) -> None:
    clock = FakeClock()
    first, second = Database(url, clock=clock), Database(url, clock=clock)
    try:
        await first.start()
        await _beat(first, clock, "web-dead")
        dead = UpdateClaims(first, clock, "web-dead")
        for update_id in (1, 2**40, 3):
            assert await dead.claim(update_id)
        clock.advance(CLAIM_ALIVE_MS / 1000 + 1)
        takers = [UpdateClaims(first if i % 2 else second, clock, f"web-{i}") for i in range(8)]
        await _beat(first, clock, *(t.claimer for t in takers))
        for update_id in (1, 2**40, 3):
            answers = await asyncio.gather(*(t.claim(update_id) for t in takers))
            assert sorted(answers) == [False] * 7 + [True], update_id
            winner = takers[answers.index(True)].claimer
            async with first.session() as s:
                claimed = await s.scalar(
                    select(SeenUpdate.claimed_by).where(SeenUpdate.update_id == update_id)
                )
            assert claimed == winner
    finally:
        await first.close()
        await second.close()


async def test_prune_forgets_claims_too(url: str) -> None:
    clock = FakeClock()
    db = Database(url, clock=clock)
    try:
        await db.start()
        claims = UpdateClaims(db, clock, "web-a")
        assert await claims.claim(20)  # claimed, never handled (its process died)
        assert await claims.claim(21)
        await claims.handled(21)
        clock.advance(8 * 86400)
        assert await SeenUpdates(db, clock).prune() == 2
        assert await claims.claim(21)
    finally:
        await db.close()


def _diffs(connection: Connection) -> list[Any]:
    def ours(obj: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        table = obj.table.name if kind in ("column", "index") else name
        return table == "seen_updates"

    ctx = MigrationContext.configure(
        connection, opts={"include_object": ours, "compare_type": True}
    )
    return list(compare_metadata(ctx, load_all().metadata))


async def test_the_model_matches_migrations_0015_and_0018(url: str) -> None:
    db = Database(url)
    try:
        await db.start()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
    finally:
        await db.close()
