"""Desk locks: across two engines on a real PostgreSQL (as two processes hold them) and within
one process (the SQLite default); a SIGKILLed holder's lock is free at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.processes.coord import DeskBusy, DeskLocks
from bot.storage.db import Database
from tests.processes.procs import child


@pytest.fixture
async def engines(pg_url: str) -> AsyncIterator[tuple[DeskLocks, DeskLocks]]:
    """Two engines on one database, as two processes have: their locks."""
    one, two = Database(pg_url), Database(pg_url)
    locks = DeskLocks.of(one), DeskLocks.of(two)
    try:
        yield locks
    finally:
        for x in locks:
            await x.close()
        await one.close()
        await two.close()


@pytest.fixture(params=["postgresql", "in-process"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[DeskLocks, DeskLocks]]:
    """Two holders that must exclude each other: two engines on PostgreSQL, or the one
    in-process lock set used twice (the single-process default)."""
    if request.param == "in-process":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        locks = DeskLocks.of(db)
        assert not locks.shared
        yield locks, locks
        await db.close()
        return
    url = request.getfixturevalue("pg_url")
    one, two = Database(url), Database(url)
    a, b = DeskLocks.of(one), DeskLocks.of(two)
    assert a.shared and b.shared
    yield a, b
    for x in (a, b, one, two):
        await x.close()


async def _contend(locks: DeskLocks, desk: str, inside: list[int], peak: list[int]) -> None:
    async with locks.hold(desk, timeout=20):
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        for _ in range(5):  # let every other task run while this one holds the desk
            await asyncio.sleep(0)
        inside[0] -= 1


async def test_one_desk_is_held_by_one_at_a_time(pair: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = pair
    inside, peak = [0], [0]
    await asyncio.gather(*(_contend(x, "d1", inside, peak) for x in (a, b) * 6))
    assert peak == [1]


async def test_two_desks_do_not_wait_for_each_other(pair: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = pair
    first_in, second_in = asyncio.Event(), asyncio.Event()

    async def holder(
        locks: DeskLocks, desk: str, mine: asyncio.Event, other: asyncio.Event
    ) -> None:
        async with locks.hold(desk, timeout=5):
            mine.set()
            await asyncio.wait_for(other.wait(), 10)  # both inside at once, or this times out

    await asyncio.gather(holder(a, "d1", first_in, second_in), holder(b, "d2", second_in, first_in))


async def test_a_taken_desk_is_busy_then_free(pair: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = pair
    release = asyncio.Event()
    holding = asyncio.Event()

    async def hold() -> None:
        async with a.hold("d1"):
            holding.set()
            await release.wait()

    task = asyncio.create_task(hold())
    await asyncio.wait_for(holding.wait(), 10)
    with pytest.raises(DeskBusy) as busy:
        async with b.hold("d1", timeout=0.2):
            pytest.fail("held twice")
    assert busy.value.desk_id == "d1"
    assert busy.value.text == (
        "Another order on this desk is still being placed; try again in a moment."
    )
    async with b.try_hold("d1") as got:
        assert got is False
    async with b.try_hold("d2") as got:
        assert got is True
    waiter = asyncio.create_task(_enter(b, "d1"))
    release.set()
    await asyncio.wait_for(waiter, 10)  # woken by the release, not by a timeout
    await task


async def _enter(locks: DeskLocks, desk: str) -> None:
    async with locks.hold(desk, timeout=10):
        pass


async def test_a_holder_takes_its_desk_again(pair: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = pair
    async with a.hold("d1"):
        async with a.hold("d1", timeout=0.5), a.try_hold("d1") as again:
            assert again is True
            assert a.held_here("d1")

        async def elsewhere() -> bool:  # a task started inside the block is not the holder
            assert not a.held_here("d1")
            async with a.try_hold("d1") as got:
                return got

        assert await asyncio.create_task(elsewhere()) is False
        assert a.held_here("d1")
    assert not a.held_here("d1")
    async with b.try_hold("d1") as got:
        assert got is True


async def test_two_engines_wait_for_each_other(engines: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = engines
    async with a.hold("d1"):
        async with b.try_hold("d1") as got:
            assert got is False
        with pytest.raises(DeskBusy):
            async with b.hold("d1", timeout=0.3):
                pytest.fail("held by two engines")
    async with b.hold("d1", timeout=0.3):
        pass


async def test_a_sigkilled_holders_desk_is_free_at_once(
    pg_url: str, engines: tuple[DeskLocks, DeskLocks]
) -> None:
    locks = engines[0]
    holder = await child("desk", pg_url, "d7")
    try:
        assert await holder.line() == "held"
        async with locks.try_hold("d7") as got:
            assert got is False
        holder.kill()
        killed = time.monotonic()
        async with locks.hold("d7", timeout=10):
            freed = time.monotonic() - killed
        print(f"\ndesk lock free {freed * 1000:.0f} ms after SIGKILL of its holder")
        assert freed < 2.0
    finally:
        await holder.reap()


async def test_a_cancelled_waiter_leaves_nothing_held(engines: tuple[DeskLocks, DeskLocks]) -> None:
    a, b = engines
    async with a.hold("d1"):
        waiter = asyncio.create_task(_enter(b, "d1"))
        await _until_waiting_on_the_server(a)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with a.try_hold("d1") as got:
        assert got is True
    async with b.try_hold("d1") as got:
        assert got is True


async def _until_waiting_on_the_server(locks: DeskLocks) -> None:
    assert locks.engine is not None
    deadline = time.monotonic() + 10
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    while time.monotonic() < deadline:
        async with locks.engine.connect() as conn:
            if (await conn.execute(query)).scalar():
                return
    pytest.fail("no one waits for the lock")


async def test_a_try_never_jumps_the_queue_nor_waits_in_it() -> None:
    """In-process: released, the next waiter not yet woken, a try is told no at once (the
    waiter goes first) rather than queueing behind it."""
    a = b = DeskLocks()
    order: list[str] = []

    async def queued() -> None:
        async with b.hold("d1", timeout=10):
            order.append("queued")

    async with a.hold("d1"):
        waiter = asyncio.create_task(queued())
        for _ in range(5):  # let it start waiting
            await asyncio.sleep(0)
    async with a.try_hold("d1") as got:  # released, the waiter not yet woken: it goes first
        order.append(f"try {got}")
    await asyncio.wait_for(waiter, 10)
    assert order[0] == "try False"
    assert order[1:] == ["queued"]
