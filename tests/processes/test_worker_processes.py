"""Two real ``python -m bot worker`` processes on one PostgreSQL database, trading the operator's
account on the simulator process and talking through the fake Bot API:

* a periodic task is deferred and run once per period, however many workers run;
* one desk's strategy cycles never run at once, even when each takes longer than the interval;
* one desk's private stream is held by one worker; SIGKILL it and the other takes it over
  within seconds, each fill told once;
* a worker SIGKILLed in the middle of a cycle (between the exchange's answer and the journal):
  another worker takes the desk's work over within seconds, the dead cycle's order is settled
  first, the pair is completed and the exchange shows no doubled order; the user is told once.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock, now_ms
from bot.desks.factory import BACKPACK
from bot.desks.model import OPERATOR
from bot.desks.registry import Desks
from bot.exchange.client import BackpackAPI
from bot.keyring.desk_keys import DeskKeys
from bot.keyring.source import KeySource
from bot.storage.db import Database
from bot.storage.strategy import StrategyStore
from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.processes.workers import WorkerProc, arg, jobs, rows, runs, until, worker_env
from tests.simproc import SimProcess, start_sim

PERP, SPOT = "BTC_USDC_PERP", "BTC_USDC"
RATE = "0.001"
DAVE = 2002  # owns a desk of his own, on his own keys
KEYRING = "k1:" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class World:
    tg: FakeTelegram
    sim: SimProcess
    control: Control
    keys: KeyPair
    db: Database
    tmp_path: Path
    pg_url: str

    def worker(self, name: str, **extra: str) -> WorkerProc:
        env = worker_env(self.tg, self.tmp_path, self.pg_url, self.keys, self.sim.rest_url, **extra)
        env["SECRETS_KEYRING"] = KEYRING
        return WorkerProc(env, self.tmp_path / f"{name}.log")

    async def strategy(self, mode: str, desk: str = OPERATOR, user: int = ALICE) -> None:
        store = StrategyStore(self.db, desk=desk)
        await store.save_settings(
            now_ms=now_ms(SystemClock()), mode=mode, user_id=user, chat_id=user
        )

    async def desk(self, owner: int, name: str) -> str:
        """A desk of ``owner``'s trading on its own (new) simulator account."""
        desks = Desks(
            self.db,
            SystemClock(),
            operator_roles={ALICE: "owner"},
            signup="open",
            max_desks=10,
            invite_ttl_seconds=3600,
        )
        await desks.load()
        desk = (await desks.create(owner, name)).desk
        keys = new_keypair()
        fields = {"api_key": keys.api_key, "api_secret": keys.api_secret}
        source = KeySource(KEYRING, self.tmp_path / "keyring", create_file=False)
        await DeskKeys(self.db, source).put(desk.id, BACKPACK, fields, hint=keys.api_key[:4])
        return desk.id

    async def orders(self) -> list[tuple[str, str, str, bool]]:
        """The account's orders at the exchange: (symbol, side, quantity, reduce only)."""
        acc: dict[str, Any] = (await self.control.state())["accounts"].get(self.keys.api_key, {})
        return [
            (o["symbol"], o["side"], str(Decimal(str(o["quantity"])).normalize()), o["reduceOnly"])
            for o in acc.get("orders", [])
        ]


@pytest.fixture
async def world(pg_url: str, tmp_path: Path) -> AsyncIterator[World]:
    db = Database(pg_url)
    await db.start()  # migrated once here: workers starting together need not race for it
    sim = await start_sim(5)
    control = Control(sim)
    try:
        async with FakeTelegram(TOKEN) as tg:
            yield World(tg, sim, control, new_keypair(), db, tmp_path, pg_url)
    finally:
        await control.close()
        await sim.stop()
        await db.close()


async def _stop(*workers: WorkerProc) -> None:
    for w in workers:
        await w.stop()


@pytest.mark.timeout(120)
async def test_a_periodic_task_runs_once_per_period_with_two_workers(world: World) -> None:
    one, two = world.worker("one"), world.worker("two")
    try:
        await one.start()
        await two.start()

        async def periods() -> bool:
            done = [j for j in await jobs(world.db, "recover") if j[1] == "succeeded"]
            return len(done) >= 3

        await until(periods, 60, "three periods of `recover`")
        stamps = [arg(j[2], "timestamp") for j in await jobs(world.db, "recover")]
        assert len(stamps) == len(set(stamps)), stamps  # never twice for one period
        assert all(s % 5 == 0 for s in stamps)
        alive = await rows(world.db, "SELECT id FROM processes WHERE role = 'worker'")
        assert sorted(r[0] for r in alive) == sorted([one.id, two.id])
        assert one.alive and two.alive
    finally:
        await _stop(one, two)
    assert (one.proc and one.proc.returncode, two.proc and two.proc.returncode) == (0, 0)
    assert await rows(world.db, "SELECT id FROM processes") == []  # each said goodbye


@pytest.mark.crash  # a long variant (`pytest -m crash`): test_worker_tasks and test_order_path
@pytest.mark.timeout(150)  # keep the per-desk lock and the one waiting cycle in make test
async def test_a_desks_cycles_never_overlap_across_workers(world: World) -> None:
    dave = await world.desk(DAVE, "Dave's desk")
    one, two = (
        world.worker("one", STRATEGY_INTERVAL_SECONDS="5"),
        world.worker("two", STRATEGY_INTERVAL_SECONDS="5"),
    )
    try:
        await one.start()
        await two.start()
        # Every request waits 3 s for a while: a cycle (several reads) outlasts the interval,
        # so the next tick's cycle is deferred while this one still runs.
        await world.control.post("fault", {"kind": "delay", "ms": 3000, "count": 30})
        await world.strategy("approve")
        await world.strategy("approve", desk=dave, user=DAVE)

        async def two_each() -> bool:
            desk_of = {j[0]: arg(j[2], "desk_id") for j in await jobs(world.db, "strategy_cycle")}
            done = [desk_of[r[0]] for r in await runs(world.db, "strategy_cycle") if r[2]]
            return min(done.count(OPERATOR), done.count(dave)) >= 2

        await until(two_each, 100, "two strategy cycles of each desk")
        desk_of = {j[0]: arg(j[2], "desk_id") for j in await jobs(world.db, "strategy_cycle")}
        assert set(desk_of.values()) == {OPERATOR, dave}  # one job per desk, each tick
        done = [r for r in await runs(world.db, "strategy_cycle") if r[2] is not None]
        for desk in (OPERATOR, dave):
            mine = [r for r in done if desk_of[r[0]] == desk]
            assert len(mine) >= 2, done
            for (_, _, end), (_, start, _) in itertools.pairwise(mine):
                assert end is not None and end <= start, mine  # one after the other
        # Two desks' cycles do run at the same time (on one worker or both).
        assert any(
            desk_of[a[0]] != desk_of[b[0]] and a[1] < (b[2] or a[1]) and b[1] < (a[2] or b[1])
            for a, b in itertools.combinations(done, 2)
        ), done
        waited = await rows(
            world.db,
            "SELECT count(*) FROM procrastinate_jobs j WHERE j.task_name = 'strategy_cycle' "
            "AND EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id "
            "AND e.type = 'deferred' AND e.at < (SELECT max(f.at) FROM procrastinate_events f "
            "WHERE f.job_id = j.id - 1 AND f.type = 'succeeded'))",
        )
        assert waited[0][0] >= 1  # a cycle was queued while the previous one still ran
    finally:
        await _stop(one, two)


@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_cycle_is_taken_over_without_a_doubled_order(
    world: World,
) -> None:
    doomed = world.worker("doomed", STRATEGY_INTERVAL_SECONDS="5", BOT_CRASH_AT="answered")
    heir = world.worker("heir", STRATEGY_INTERVAL_SECONDS="5")
    try:
        await doomed.start()
        await world.strategy("auto")
        await world.control.post("funding", {"symbol": PERP, "rate": RATE})

        async def cycling() -> bool:
            return any(j[1] == "doing" for j in await jobs(world.db, "strategy_cycle"))

        await until(cycling, 60, "the doomed worker's cycle")
        doomed_job = next(j[0] for j in await jobs(world.db, "strategy_cycle") if j[1] == "doing")
        await heir.start()  # up while the doomed one is mid-cycle (or just died)
        assert await doomed.wait_dead(60) == -signal.SIGKILL, doomed.tail()
        died = time.monotonic()
        entry = await world.orders()
        assert len(entry) == 1, entry  # the perp leg went out, then the worker died
        perp, side, qty, _ = entry[0]
        assert (perp, side) == (PERP, "Ask")

        async def completed() -> bool:
            approvals = await rows(world.db, "SELECT status FROM strategy_approvals")
            return [a[0] for a in approvals] == ["executed"] and len(await world.orders()) == 2

        await until(completed, 45, "the heir completes the pair")
        took = time.monotonic() - died
        assert took < 30, took
        assert await world.orders() == [entry[0], (SPOT, "Bid", qty, False)]
        unsettled = await rows(
            world.db, "SELECT count(*) FROM order_journal WHERE status = 'sending'"
        )
        assert unsettled[0][0] == 0
        told = await world.tg.next_message(ALICE, "After a restart", timeout=20)
        assert f"Opened {PERP}: completed after a restart" in told.text

        # More cycles and recovery rounds run: nothing is sent or told again.
        async def later_cycles() -> bool:
            done = [j for j in await jobs(world.db, "strategy_cycle") if j[1] == "succeeded"]
            return len(done) >= 3

        await until(later_cycles, 60, "two more cycles on the heir")
        assert len(await world.orders()) == 2
        assert [m for m in world.tg.messages if "After a restart" in m.text] == [told]
        # The dead worker's job did not stay "doing" (it would hold the desk's lock for good):
        # run again, or closed when a newer cycle of the desk was already waiting.
        status = {j[0]: j[1] for j in await jobs(world.db, "strategy_cycle")}
        assert status[doomed_job] in ("succeeded", "failed"), status
    finally:
        await _stop(heir)
        await doomed.kill()


async def _holders(world: World) -> list[str]:
    found = await rows(
        world.db,
        "SELECT holder FROM stream_leases WHERE desk_id = :d AND expires_ms > :now",
        d=OPERATOR,
        now=now_ms(SystemClock()),
    )
    return [r[0] for r in found if r[0]]


async def _buy(world: World) -> str:
    """An order placed outside the bot (the exchange's own app): its fill is news."""
    api = BackpackAPI(
        world.keys.api_key,
        world.keys.api_secret,
        world.sim.rest_url,
        world.sim.ws_url,
        logging.getLogger("test"),
    )
    async with api:
        order = await api.place_order(PERP, "BUY", quantity="0.01", order_type="MARKET")
    return str(order["id"])


@pytest.mark.timeout(150)
async def test_a_desks_private_stream_has_one_holder_and_is_taken_over(world: World) -> None:
    one, two = world.worker("one"), world.worker("two")
    try:
        await one.start()
        await two.start()

        async def held() -> bool:
            return len(await _holders(world)) == 1

        await until(held, 30, "one holder of the operator's stream")
        holder_id = (await _holders(world))[0]
        holder, other = (one, two) if holder_id == one.id else (two, one)
        assert holder_id == holder.id

        mark = len(world.tg.messages)
        first = await _buy(world)
        await world.tg.next_message(ALICE, f"order <code>{first}</code>", after=mark, timeout=30)

        async def recorded() -> bool:  # this test kills a stream holder, not a sender mid-send
            return not await rows(world.db, "SELECT id FROM outbox_messages WHERE sent_ms IS NULL")

        await until(recorded, 10, "the fill's message recorded as sent")
        await holder.kill()
        killed = time.monotonic()

        async def taken_over() -> bool:
            return await _holders(world) == [other.id]

        await until(taken_over, 30, "the other worker takes the stream over")
        takeover = time.monotonic() - killed
        # The lease's ttl (6 s) + a renewal round (2 s); the rest is slack for a loaded machine.
        assert takeover < 20, takeover
        second = await _buy(world)
        await world.tg.next_message(ALICE, f"order <code>{second}</code>", after=mark, timeout=30)
        # Each fill told once, by whichever process held the stream when it came.
        for order_id in (first, second):
            told = [m for m in world.tg.messages if f"order <code>{order_id}</code>" in m.text]
            assert len(told) == 1, told
    finally:
        await _stop(one, two)
