"""The ingest leader evaluates prices in the order the exchange had them (real PostgreSQL).

A stream tick waits for the evaluator's lock while a re-check (after a (re)connect, or the
silent-stream watch's REST round) evaluates a newer price; evaluated afterwards at its own,
older price it re-armed the alerts the re-check had just fired (the price "went back" past the
hysteresis band) and the next tick told them a second time — the scale bench's "alerts told
twice". Each crossing is told once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.alerts.service import AlertService
from bot.clock import FakeClock
from bot.exchange.client import BackpackAPI
from bot.processes.compose import asyncpg_dsn
from bot.processes.ingest import Ingest, alert_key
from bot.services.notices.table import TableOutbox
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from jobs.outbox import TelegramMarkupCodec
from tests.processes.ingest_procs import Pg

USER = 1001
SYMBOL = "SOL_USDC"


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    d = Database(pg_url)
    await d.start()
    yield d
    await d.close()


async def leader(pg_url: str, db: Database) -> tuple[Ingest, AlertService, BackpackAPI]:
    """An ingest leader's evaluation path; its exchange is never called (prices are given)."""
    clock = FakeClock()
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, clock)
    outbox = TableOutbox(db, clock, TelegramMarkupCodec())
    ingest = Ingest(db, api, alerts, outbox, clock, dsn=asyncpg_dsn(pg_url))
    alerts.before_fired = ingest.write_notices
    return ingest, alerts, api


async def notices(pg_url: str) -> list[str]:
    pg = await Pg.connect(pg_url)
    try:
        rows = await pg.rows("SELECT dedupe_key FROM outbox_messages ORDER BY id")
    finally:
        await pg.close()
    return [str(r["dedupe_key"]) for r in rows]


async def test_a_tick_that_waited_for_a_recheck_does_not_tell_a_crossing_twice(
    pg_url: str, db: Database
) -> None:
    store = AlertStore(db)
    alert = await store.add(
        user_id=USER,
        chat_id=USER,
        symbol=SYMBOL,
        kind="price",
        op=">",
        threshold=Decimal("250"),
        window_seconds=None,
        now_ms=0,
    )
    ingest, alerts, api = await leader(pg_url, db)
    await alerts.reload()
    async with ingest.lock:  # a re-check is evaluating
        # the stream hands over 249 (below the re-arm level 249.5); its callback waits
        api.prices[SYMBOL] = Decimal("249")
        waiting = asyncio.create_task(ingest._on_price(SYMBOL, Decimal("249")))
        # meanwhile the price rose to 251 and the re-check evaluates what the stream has now
        api.prices[SYMBOL] = Decimal("251")
        fired = await alerts.check_all()
        assert [f.alert.id for f in fired] == [alert.id]
    await waiting  # evaluated after the re-check: never at its older price
    api.prices[SYMBOL] = Decimal("252")
    await ingest._on_price(SYMBOL, Decimal("252"))  # the next tick: nothing new crossed
    assert await notices(pg_url) == [alert_key(alert.id, 1)]
    stored = await store.get(alert.id)
    assert stored is not None and (stored.armed, stored.fired_count) == (False, 1)
    # the price really going back re-arms it, and the next crossing is told (as the 2nd)
    api.prices[SYMBOL] = Decimal("249")
    await ingest._on_price(SYMBOL, Decimal("249"))
    api.prices[SYMBOL] = Decimal("251")
    await ingest._on_price(SYMBOL, Decimal("251"))
    assert await notices(pg_url) == [alert_key(alert.id, 1), alert_key(alert.id, 2)]


async def test_the_silent_stream_watch_evaluates_under_the_evaluators_lock(
    pg_url: str, db: Database
) -> None:
    """Its REST round (read a price, evaluate it) is one step between two ticks."""
    ingest, _, _ = await leader(pg_url, db)
    seen: list[bool] = []

    async def watch() -> None:
        seen.append(ingest.lock.locked())

    await ingest.look_stale(watch)
    assert seen == [True]
    assert not ingest.lock.locked()
