"""The order path holds the desk's lock, across two engines on one PostgreSQL database (as two
processes of the set have): a desk's second placement waits until the first's outcome is
recorded, another desk's does not; a confirmation that cannot get its desk says so and stays
live."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import text

from bot.clock import SystemClock
from bot.exchange.client import BackpackAPI
from bot.services.access import Actor
from bot.services.orders.confirm import Status, TradingConfig, TradingService
from bot.services.orders.intent import parse_order
from bot.services.orders.sender import LegStatus, OrderSender, WireOrder
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.desk_locks import DeskBusy, DeskLocks
from bot.storage.trading import PENDING, TradingStore
from handlers.common import friendly
from tests.keys import new_keypair

CHAT = -100
ALICE = Actor(1001, "trader", CHAT, "group", frozenset({CHAT}))
SOL = "SOL_USDC_PERP"


@pytest.fixture
async def api() -> AsyncIterator[BackpackAPI]:
    keys = new_keypair()
    async with (
        Simulator(seed=7, random_walk=False, tick_interval=0.05) as sim,
        BackpackAPI(
            api_key=keys.api_key,
            api_secret=keys.api_secret,
            base_url=sim.rest_url,
            ws_url=sim.ws_url,
            logger=logging.getLogger("test.client"),
        ) as client,
    ):
        yield client


@dataclass
class Engine:
    """What one process of the set has: its database engine and its desk locks."""

    db: Database
    locks: DeskLocks


@pytest.fixture
async def engines(pg_url: str) -> AsyncIterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two processes of the set have."""
    one, two = Database(pg_url), Database(pg_url)
    await one.start()
    made = Engine(one, DeskLocks.of(one)), Engine(two, DeskLocks.of(two))
    try:
        yield made
    finally:
        for e in made:
            await e.locks.close()
            await e.db.close()


def sender(
    api: BackpackAPI,
    engine: Engine,
    desk: str,
    before_send: Callable[[str], Awaitable[None]] | None = None,
) -> OrderSender:
    return OrderSender(
        api,
        TradingStore(engine.db, desk=desk),
        mode="live",
        locks=engine.locks,
        before_send=before_send,
    )


class Gate:
    """Holds a placement just before its request leaves (its journal row written, the desk's
    lock held) until released."""

    def __init__(self) -> None:
        self.inside = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, _symbol: str) -> None:
        self.inside.set()
        await self.release.wait()


def buy() -> WireOrder:
    return WireOrder(SOL, "BUY", Decimal("1"))


async def place(s: OrderSender, token: str) -> LegStatus:
    outcome = await s.place(buy(), token=token, leg=0, user_id=1, chat_id=CHAT, origin="test")
    return outcome.status


async def waiting_on_the_server(engine: Engine) -> None:
    """Until someone waits for an advisory lock held by another session."""
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with engine.db.engine.connect() as conn:
            if (await conn.execute(query)).scalar():
                return
    pytest.fail("no one waits for the desk")


async def test_a_desks_second_placement_waits_for_the_first_across_engines(
    api: BackpackAPI, engines: tuple[Engine, Engine]
) -> None:
    gate = Gate()
    first = sender(api, engines[0], "d1", before_send=gate)
    second = sender(api, engines[1], "d1")
    one = asyncio.create_task(place(first, "a"))
    await asyncio.wait_for(gate.inside.wait(), 10)
    two = asyncio.create_task(place(second, "b"))
    await waiting_on_the_server(engines[1])
    assert await second.store.journal_for("b") == []  # not even journaled while "a" is out
    [row] = await first.store.journal_for("a")
    assert row.status == "sending"
    gate.release.set()
    assert await asyncio.wait_for(one, 10) is LegStatus.FILLED
    assert await asyncio.wait_for(two, 10) is LegStatus.FILLED
    [a], [b] = await first.store.journal_for("a"), await second.store.journal_for("b")
    assert a.status == b.status == "filled"


async def test_another_desks_placement_does_not_wait(
    api: BackpackAPI, engines: tuple[Engine, Engine]
) -> None:
    gate = Gate()
    first = sender(api, engines[0], "d1", before_send=gate)
    other = sender(api, engines[1], "d2")
    one = asyncio.create_task(place(first, "a"))
    await asyncio.wait_for(gate.inside.wait(), 10)
    assert await asyncio.wait_for(place(other, "b"), 10) is LegStatus.FILLED  # "a" still out
    assert not one.done()
    gate.release.set()
    assert await asyncio.wait_for(one, 10) is LegStatus.FILLED


async def test_a_cancel_and_a_recovery_wait_for_the_desk_too(
    api: BackpackAPI, engines: tuple[Engine, Engine]
) -> None:
    gate = Gate()
    first = sender(api, engines[0], "d1", before_send=gate)
    second = sender(api, engines[1], "d1")
    one = asyncio.create_task(place(first, "a"))
    await asyncio.wait_for(gate.inside.wait(), 10)
    [row] = await second.store.unsettled()  # "a", in flight: not a crash's leftover
    resolving = asyncio.create_task(second.resolve(row))
    cancelling = asyncio.create_task(second.cancel(SOL, None, user_id=1, chat_id=CHAT))
    await waiting_on_the_server(engines[1])
    gate.release.set()
    assert await asyncio.wait_for(one, 10) is LegStatus.FILLED
    # the in-flight row was settled by its own placement, and read back, not looked up
    assert (await asyncio.wait_for(resolving, 10)).status is LegStatus.FILLED
    assert await asyncio.wait_for(cancelling, 10) == []
    assert await second.store.unsettled() == []


async def test_a_tap_that_cannot_get_its_desk_says_so_and_stays_live(
    api: BackpackAPI, engines: tuple[Engine, Engine]
) -> None:
    orders = sender(api, engines[0], "d1")
    orders.lock_wait = 0.2
    trading = TradingService(
        api,
        orders.store,
        TradingConfig(mode="live", max_order_notional=Decimal(20000)),
        sender=orders,
        clock=SystemClock(),
    )
    preview = await trading.preview(ALICE, parse_order("buy", "SOL 1"))
    async with engines[1].locks.hold("d1"):  # another process places an order on the desk
        with pytest.raises(DeskBusy) as busy:
            await trading.confirm(ALICE, preview.token)
    assert friendly(busy.value) == (
        "⏳ Another order on this desk is still being placed; try again in a moment."
    )
    rec = await orders.store.get(preview.token)
    assert rec is not None and rec.status == PENDING  # nothing claimed, nothing sent
    assert await orders.store.journal_for(preview.token) == []
    out = await trading.confirm(ALICE, preview.token)  # the second tap goes through
    assert out.status is Status.FILLED
