"""Private-stream leases over a real PostgreSQL: two holders split the desks and never hold one
desk at once; a SIGKILLed holder's desks are taken over within ttl + renew; ``cap`` holds; a
holder that stops or no longer wants a desk hands it over at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

from bot.clock import SystemClock
from bot.processes.coord import ProcessRecord, StreamLeases
from bot.storage.coordination import StreamLeaseRow
from bot.storage.db import Database
from tests.processes.procs import child

DESKS = {f"d{i}" for i in range(10)}
TTL, RENEW = 2.0, 0.5


@dataclass
class Holder:
    """A StreamLeases loop in this process and the streams it runs (from its callbacks)."""

    leases: StreamLeases
    record: ProcessRecord
    running: set[str] = field(default_factory=set)
    gains: list[tuple[str, float]] = field(default_factory=list)
    others: list[Holder] = field(default_factory=list)
    wanted: set[str] = field(default_factory=lambda: set(DESKS))
    task: asyncio.Task[None] | None = None

    async def want(self) -> set[str]:
        return set(self.wanted)

    async def gained(self, desk: str) -> None:
        for other in self.others:  # the moment a stream starts here, it runs nowhere else
            assert desk not in other.running, f"{desk} runs in two places"
        self.running.add(desk)
        self.gains.append((desk, time.time()))

    async def lost(self, desk: str) -> None:
        self.running.discard(desk)

    async def start(self) -> None:
        """As a worker starts: its process row, then its lease loop."""
        await self.record.start()
        self.task = asyncio.create_task(self.leases.run(self.want, self.gained, self.lost))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
            await self.record.stop()


@asynccontextmanager
async def holders(url: str, *caps: int) -> AsyncIterator[list[Holder]]:
    db = Database(url)
    await db.start()
    clock = SystemClock()
    made: list[Holder] = []
    try:
        for cap in caps:
            record = ProcessRecord(db, "worker", clock)
            leases = StreamLeases(db, record.id, clock, ttl=TTL, renew=RENEW, cap=cap)
            made.append(Holder(leases, record))
        for h in made:
            h.others = [o for o in made if o is not h]
        yield made
    finally:
        for h in made:
            await h.stop()
        await db.close()


async def until(what: Callable[[], bool], timeout: float, check: Callable[[], None]) -> float:
    """Poll ``what`` (running ``check`` at each look) until it holds; the seconds it took."""
    start = time.monotonic()
    while not what():
        check()
        assert time.monotonic() - start < timeout, "not within the deadline"
        await asyncio.sleep(0.01)
    check()
    return time.monotonic() - start


def disjoint(*hs: Holder) -> Callable[[], None]:
    def check() -> None:
        for i, h in enumerate(hs):
            for o in hs[i + 1 :]:
                assert not h.leases.held & o.leases.held
                assert not h.running & o.running

    return check


async def test_two_holders_split_the_desks_never_holding_one_twice(pg_url: str) -> None:
    async with holders(pg_url, 1000, 1000) as (a, b):
        await a.start()
        await b.start()
        both = disjoint(a, b)
        await until(lambda: a.leases.held | b.leases.held == DESKS, 10, both)
        await until(lambda: len(a.leases.held) == len(b.leases.held) == 5, 10, both)
        # …and it stays that way for a few rounds
        end = time.monotonic() + 4 * RENEW
        await until(lambda: time.monotonic() > end, 10, both)
        assert len(a.leases.held) == len(b.leases.held) == 5
        assert a.running == a.leases.held and b.running == b.leases.held


#: How long shares may take to settle on a loaded machine (each round is RENEW; the split
#: itself is what is checked, not its speed).
SETTLE = 30


async def test_a_newcomer_gets_its_share_and_a_stopped_holder_hands_over_at_once(
    pg_url: str,
) -> None:
    async with holders(pg_url, 1000, 1000, 1000) as (a, b, c):
        everyone = disjoint(a, b, c)
        await a.start()
        await until(lambda: a.leases.held == DESKS, SETTLE, everyone)
        await b.start()  # seen in `processes` before it holds anything: a sheds to it
        await until(lambda: len(b.leases.held) == 5 and len(a.leases.held) == 5, SETTLE, everyone)
        await c.start()
        await until(
            lambda: sorted(len(h.leases.held) for h in (a, b, c)) == [3, 3, 4], SETTLE, everyone
        )
        mine = set(a.leases.held)
        await a.stop()  # graceful: streams stopped, leases freed, no waiting for the ttl
        assert not a.running
        took = await until(lambda: b.leases.held | c.leases.held == DESKS, 10, everyone)
        print(f"\nleases of a stopped holder taken over in {took:.2f} s")
        assert took < TTL  # handed over, not expired
        assert mine <= b.leases.held | c.leases.held


async def test_cap_is_respected_and_the_rest_goes_to_another(pg_url: str) -> None:
    async with holders(pg_url, 3, 1000) as (small, big):
        both = disjoint(small, big)

        def capped() -> None:
            both()
            assert len(small.leases.held) <= 3

        await small.start()
        await until(lambda: len(small.leases.held) == 3, 10, capped)
        await big.start()
        await until(lambda: small.leases.held | big.leases.held == DESKS, 10, capped)
        churn = len(big.gains)
        end = time.monotonic() + 6 * RENEW
        await until(lambda: time.monotonic() > end, 10, capped)
        assert len(small.leases.held) == 3 and len(big.leases.held) == 7
        assert len(big.gains) - churn <= 2  # settled: no shedding back and forth


async def test_a_desk_no_longer_wanted_is_stopped_and_freed(pg_url: str) -> None:
    async with holders(pg_url, 1000) as (a,):
        await a.start()
        await until(lambda: a.leases.held == DESKS, 10, lambda: None)
        a.wanted.discard("d3")
        await until(lambda: "d3" not in a.leases.held, 10, lambda: None)
        assert "d3" not in a.running
        rows = await _leases(a.leases.db)
        assert rows["d3"].holder is None
        assert all(rows[d].holder == a.leases.holder for d in DESKS - {"d3"})


async def _leases(db: Database) -> dict[str, StreamLeaseRow]:
    async with db.session() as s:
        return {r.desk_id: r for r in (await s.execute(select(StreamLeaseRow))).scalars()}


async def test_a_sigkilled_holders_desks_are_taken_over_within_ttl_plus_renew(
    pg_url: str,
) -> None:
    db = Database(pg_url)
    await db.start()  # the child starts after the schema is there
    await db.close()
    other = await child("leases", pg_url, *sorted(DESKS))
    theirs: dict[str, float] = {}  # desk → when the child gained it
    ended: dict[str, float] = {}  # desk → when the child lost it
    reading: asyncio.Task[None] | None = None
    try:
        assert (await other.line()).startswith("id worker-")

        async def read() -> None:
            while True:
                word, desk, at = (await other.line(timeout=600)).split()
                (theirs if word == "gained" else ended)[desk] = float(at)

        reading = asyncio.create_task(read())
        async with holders(pg_url, 1000) as (mine,):
            await mine.start()
            await until(
                lambda: len(mine.leases.held) == 5 and len(set(theirs) - set(ended)) == 5,
                15,
                lambda: None,
            )
            assert not mine.leases.held & (set(theirs) - set(ended))
            other.kill()
            killed = time.time()
            took = await until(lambda: mine.leases.held == DESKS, 15, lambda: None)
            print(f"\nstream leases of a SIGKILLed holder taken over in {took:.2f} s")
            assert took <= TTL + RENEW + 1.0  # + a round's own work on a loaded machine
        for desk, at in mine.gains:  # whenever it started here, it had stopped there (or died)
            if desk in theirs and theirs[desk] < at:
                assert ended.get(desk, killed) <= at, desk
    finally:
        if reading is not None:
            reading.cancel()
        await other.reap()


@pytest.mark.parametrize(("ttl", "renew"), [(2.0, 2.0), (1.0, 3.0)])
def test_a_lease_is_renewed_before_it_runs_out(ttl: float, renew: float) -> None:
    with pytest.raises(ValueError, match="renew < ttl"):
        StreamLeases(
            Database("sqlite+aiosqlite://"), "worker-x", SystemClock(), ttl=ttl, renew=renew
        )


async def test_a_holder_that_cannot_renew_stops_its_streams_before_its_leases_run_out(
    pg_url: str,
) -> None:
    """Its database refuses the renewals (a revoked grant plays a database that is away for this
    process only): it stops its streams while its leases still hold; the other takes them over
    once they ran out, never overlapping (each gain checks the other runs nothing of it)."""
    role = f"r_{uuid.uuid4().hex[:10]}"
    admin = Database(pg_url)
    await admin.start()
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        await conn.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"'))
    limited = Database(pg_url.replace("://postgres@", f"://{role}@"))
    clock = SystemClock()
    made: list[Holder] = []
    try:
        for db in (limited, admin):
            record = ProcessRecord(db, "worker", clock)
            made.append(Holder(StreamLeases(db, record.id, clock, ttl=TTL, renew=RENEW), record))
        cut, other = made
        cut.others, other.others = [other], [cut]
        both = disjoint(cut, other)
        await cut.start()
        await until(lambda: cut.leases.held == DESKS, 10, both)
        await other.start()
        await until(lambda: len(cut.leases.held) == len(other.leases.held) == 5, 10, both)
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'REVOKE UPDATE ON stream_leases FROM "{role}"'))
        revoked = time.monotonic()
        await until(lambda: not cut.running, 10, both)
        stopped = time.monotonic() - revoked
        print(f"\nstreams stopped {stopped:.2f} s after the renewals began to fail (ttl {TTL} s)")
        assert stopped < TTL
        took = await until(lambda: other.leases.held == DESKS, 15, both)
        print(f"…and taken over by the other {stopped + took:.2f} s after")
    finally:
        for h in made:
            await h.stop()
        await limited.close()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP OWNED BY "{role}"'))
            await conn.execute(text(f'DROP ROLE "{role}"'))
        await admin.close()
