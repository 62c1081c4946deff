"""Watch marks written by several processes at once, on SQLite and on a real PostgreSQL server
(two engines stand for two workers whose watch jobs ran the same round): no duplicate-key error,
one winner per claimed mark, the last write of a set mark kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.storage.alerts import AlertStore
from bot.storage.db import Database

NOW = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_two_engines_claiming_one_mark_have_one_winner(url: str) -> None:
    clock = FakeClock()
    first, second = Database(url, clock=clock), Database(url, clock=clock)
    try:
        await first.start()
        a, b = AlertStore(first), AlertStore(second)
        for n in range(5):
            key = f"fund:1:SOL_USDC_PERP:{n}"
            tries = [(a if i % 2 else b).claim_mark(key, NOW + i) for i in range(8)]
            answers = await asyncio.gather(*tries)
            assert sorted(answers) == [False] * 7 + [True], key
            assert not await a.claim_mark(key, NOW)
        assert await b.claim_mark("fund:1:SOL_USDC_PERP:99", NOW)
    finally:
        await first.close()
        await second.close()


async def test_two_engines_setting_one_mark_both_succeed(url: str) -> None:
    clock = FakeClock()
    first, second = Database(url, clock=clock), Database(url, clock=clock)
    try:
        await first.start()
        a, b = AlertStore(first), AlertStore(second)
        for n in range(5):
            key = f"open:1:SOL_USDC_PERP:{n}"
            writes = [(a if i % 2 else b).set_mark(key, NOW + i, "earns") for i in range(8)]
            await asyncio.gather(*writes)  # a get-then-insert raised IntegrityError here
            mark = await a.mark(key)
            assert mark is not None and mark.value == "earns"
            assert NOW <= mark.at_ms < NOW + 8
        await a.set_mark("liq:1:SOL_USDC_PERP", NOW, "earns")
        await b.set_mark("liq:1:SOL_USDC_PERP", NOW + 5, "pays")  # an update, not a new row
        mark = await a.mark("liq:1:SOL_USDC_PERP")
        assert mark is not None and (mark.at_ms, mark.value) == (NOW + 5, "pays")
        other = AlertStore(first, desk="desk-2")
        assert await other.mark("liq:1:SOL_USDC_PERP") is None  # marks stay the desk's own
        assert await other.claim_mark("liq:1:SOL_USDC_PERP", NOW)
    finally:
        await first.close()
        await second.close()
