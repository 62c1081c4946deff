"""The ingest leader's parts on a real PostgreSQL: the prices table and its reader, the alert
index following other processes' writes (NOTIFY, a broken listening connection), and the
settling of a notice a dead leader wrote before storing its alert as fired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from bot.alerts.service import AlertService
from bot.clock import FakeClock, now_ms
from bot.exchange.client import BackpackAPI
from bot.processes.compose import asyncpg_dsn
from bot.processes.follow import AlertFollower, fingerprint, parse_ids
from bot.processes.ingest import Ingest, alert_key, settle_noticed
from bot.processes.prices import PriceWriter
from bot.services.notices.outbox import Note
from bot.services.notices.table import TableOutbox
from bot.storage.alerts import Alert, AlertStore
from bot.storage.db import Database
from bot.storage.models import load_all
from bot.storage.prices import latest_prices, latest_quotes
from jobs.outbox import TelegramMarkupCodec
from tests.processes.ingest_procs import Pg, until

USER = 1001


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    d = Database(pg_url)
    await d.start()
    yield d
    await d.close()


@pytest.fixture
async def other(pg_url: str, db: Database) -> AsyncIterator[AlertStore]:
    """Another process's store: its own engine and connections."""
    d = Database(pg_url)
    yield AlertStore(d)
    await d.close()


async def add(store: AlertStore, threshold: str, symbol: str = "SOL_USDC") -> Alert:
    return await store.add(
        user_id=USER,
        chat_id=USER,
        symbol=symbol,
        kind="price",
        op=">",
        threshold=Decimal(threshold),
        window_seconds=None,
        now_ms=1,
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_prices_upserted_and_read_back(backend: str, db: Database, tmp_path: Path) -> None:
    target = db if backend == "postgresql" else Database(f"sqlite:///{tmp_path / 'bot.db'}")
    if target is not db:
        await target.start()
    clock = FakeClock()
    writer = PriceWriter(target, clock)
    for p in ("180.1", "180.2", "180.3"):
        writer.on_price("SOL_USDC", Decimal(p))
    writer.on_funding("SOL_USDC_PERP", Decimal("0.0001"))  # no price yet: nothing to write
    writer.on_price("BTC_USDC", Decimal("97000.5"))
    assert await writer.flush() == 2
    assert await latest_prices(target) == {
        "SOL_USDC": Decimal("180.3"),
        "BTC_USDC": Decimal("97000.5"),
    }
    writer.on_price("SOL_USDC_PERP", Decimal("181"))
    clock.advance(1)
    assert await writer.flush() == 1  # only what changed
    writer.on_price("SOL_USDC_PERP", Decimal("182"))  # the rate is kept when not new
    assert await writer.flush() == 1
    quote = (await latest_quotes(target))["SOL_USDC_PERP"]
    assert (quote.price, quote.funding_rate) == (Decimal("182"), Decimal("0.0001"))
    assert quote.updated_ms == now_ms(clock)
    assert await writer.flush() == 0
    assert (writer.writes, writer.rows) == (3, 4)
    if target is not db:
        await target.close()


async def test_index_follows_other_processes_writes(
    pg_url: str, db: Database, other: AlertStore
) -> None:
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, FakeClock())
    before = await add(other, "200")
    follower = AlertFollower(asyncpg_dsn(pg_url), alerts, asyncio.Lock(), full_every=3600)
    await follower.start()
    assert set(alerts.alerts) == {before.id}
    task = asyncio.create_task(follower.run())
    try:
        added = await add(other, "250")  # one NOTIFY: only that alert is read
        await until(lambda: _has(alerts, added.id), 5, "the added alert is loaded")
        assert follower.partial >= 1 and follower.full == 1
        assert [a.id for a in alerts.index.crossed("SOL_USDC", Decimal("260"))] == [
            before.id,
            added.id,
        ]
        await alerts.reload()  # the crossing above only probed the index
        assert await other.mute(added.id, USER, 10**13)
        await until(lambda: _muted(alerts, added.id), 5, "the mute is seen")
        assert await other.delete(before.id, USER)
        await until(lambda: _gone(alerts, before.id), 5, "the removed alert is dropped")
        assert alerts.index.crossed("SOL_USDC", Decimal("210")) == []

        # The listening connection dies: the follower listens again and re-reads everything.
        pg = await Pg.connect(pg_url)
        await pg.value(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        late = await add(other, "260")
        await until(lambda: _has(alerts, late.id), 10, "an alert added meanwhile is loaded")
        await until(lambda: _checked(follower, 1), 10, "the table compared after the break")
        await pg.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert set(alerts.alerts) == {added.id, late.id}


async def _has(alerts: AlertService, alert_id: int) -> bool:
    return alert_id in alerts.alerts


async def _gone(alerts: AlertService, alert_id: int) -> bool:
    return alert_id not in alerts.alerts


async def _muted(alerts: AlertService, alert_id: int) -> bool:
    return alerts.alerts[alert_id].muted_until_ms == 10**13


async def _checked(follower: AlertFollower, n: int) -> bool:
    return follower.checks >= n


def test_notification_payloads() -> None:
    assert parse_ids("3,5,8") == [3, 5, 8]
    assert parse_ids("") == []
    assert parse_ids("everything") is None


async def test_a_notice_written_before_a_crash_settles_its_alert(
    db: Database, other: AlertStore
) -> None:
    told, untold = await add(other, "250"), await add(other, "260")
    async with db.session() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO outbox_messages (chat_id, text, dedupe_key, created_ms, not_before_ms)"
                " VALUES (:c, 'x', :k, 0, 0)"
            ),
            {"c": USER, "k": alert_key(told.id, 1)},
        )
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, FakeClock())
    assert await settle_noticed(db, alerts, FakeClock()) == [told.id]
    settled, still = await other.get(told.id), await other.get(untold.id)
    assert settled is not None and (settled.armed, settled.fired_count) == (False, 1)
    assert still is not None and (still.armed, still.fired_count) == (True, 0)
    assert await settle_noticed(db, alerts, FakeClock()) == []  # once


async def test_many_notices_at_once_are_durable_and_deduped(db: Database) -> None:
    """A tick that crosses thousands of alerts: their notices in a few statements, each key
    once even when the same crossing is written again (a new leader re-firing it)."""
    outbox = TableOutbox(db, FakeClock(), TelegramMarkupCodec())
    notes = [Note(USER, USER, f"n{i}", dedupe_key=alert_key(i, 1)) for i in range(2500)]
    assert await outbox.put_many(notes) == 2500
    assert await outbox.put_many([*notes[2000:], Note(USER, USER, "new", dedupe_key="x")]) == 1
    async with db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM outbox_messages"))).scalar() == 2501


async def test_a_batch_rearm_is_followed(pg_url: str, db: Database, other: AlertStore) -> None:
    """2,000 alerts re-armed in one transaction (more ids than one notification holds): each
    is seen, without a full re-read."""
    async with db.session() as s, s.begin():
        rows = await s.execute(
            text(
                "INSERT INTO alerts (user_id, chat_id, symbol, kind, op, threshold, armed,"
                " fired_count, created_at_ms) SELECT :u, :u, 'SOL_USDC', 'price', '>',"
                " (200 + g)::text, false, 1, 0 FROM generate_series(1, 2000) g RETURNING id"
            ),
            {"u": USER},
        )
        ids = [int(i) for i in rows.scalars()]
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, FakeClock())
    follower = AlertFollower(asyncpg_dsn(pg_url), alerts, asyncio.Lock(), full_every=3600)
    await follower.start()
    assert len(alerts.index) == 0 and len(alerts.parked) == 2000
    task = asyncio.create_task(follower.run())
    try:
        await other.rearm_many(ids)
        await until(lambda: _indexed(alerts, 2000), 5, "every re-armed alert indexed")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(alerts.parked) == 0 and follower.full == 1


async def _indexed(alerts: AlertService, n: int) -> bool:
    return len(alerts.index) == n


def _price_diffs(connection: Connection) -> list[Any]:
    def ours(obj: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        return (obj.table.name if kind in ("column", "index") else name) == "prices"

    ctx = MigrationContext.configure(
        connection, opts={"include_object": ours, "compare_type": True}
    )
    return list(compare_metadata(ctx, load_all().metadata))


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_the_prices_model_matches_the_migration(
    backend: str, db: Database, tmp_path: Path
) -> None:
    target = db if backend == "postgresql" else Database(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        await target.start()
        async with target.engine.connect() as conn:
            assert await conn.run_sync(_price_diffs) == []
    finally:
        if target is not db:
            await target.close()


async def test_a_change_without_a_notice_is_found_by_the_periodic_comparison(
    pg_url: str, db: Database, other: AlertStore
) -> None:
    """The safety net: every ``full_every`` the table's fingerprint is compared with the index;
    everything is read again only when they differ."""
    alert = await add(other, "250")
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, FakeClock())
    follower = AlertFollower(asyncpg_dsn(pg_url), alerts, asyncio.Lock(), full_every=0.2)
    await follower.start()
    assert fingerprint(alerts.alerts.values()) == fingerprint([alert])
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: _checked(follower, 2), 5, "two comparisons")
        assert follower.full == 1  # nothing changed: nothing read again
        async with db.session() as s, s.begin():  # a write that sends no notice
            await s.execute(text("UPDATE alerts SET armed = false, fired_count = 1"))
        await until(lambda: _parked(alerts, alert.id), 5, "the silent change is found")
        assert follower.full == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _parked(alerts: AlertService, alert_id: int) -> bool:
    return alert_id not in alerts.index and alerts.alerts[alert_id].fired_count == 1


async def test_a_notice_that_cannot_be_written_leaves_the_alert_armed(
    pg_url: str, db: Database, other: AlertStore
) -> None:
    """The outbox table cannot be written at the crossing: nothing is stored as fired, the
    alert stays in the index, and the next tick tells it once."""
    alert = await add(other, "250")
    clock = FakeClock()
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    alerts = AlertService(AlertStore(db), api, clock)
    outbox = TableOutbox(db, clock, TelegramMarkupCodec())
    ingest = Ingest(db, api, alerts, outbox, clock, dsn=asyncpg_dsn(pg_url))
    alerts.before_fired = ingest.write_notices
    await alerts.reload()
    pg = await Pg.connect(pg_url)
    try:
        await pg.execute("ALTER TABLE outbox_messages RENAME TO outbox_away")
        with pytest.raises(DBAPIError):
            await alerts.on_price("SOL_USDC", Decimal("300"))
        assert alert.id in alerts.index and len(alerts.parked) == 0
        stored = await other.get(alert.id)
        assert stored is not None and (stored.armed, stored.fired_count) == (True, 0)
        await pg.execute("ALTER TABLE outbox_away RENAME TO outbox_messages")
        fired = await alerts.on_price("SOL_USDC", Decimal("301"))
        assert [f.alert.id for f in fired] == [alert.id]
        keys = await pg.rows("SELECT dedupe_key FROM outbox_messages")
        assert [r["dedupe_key"] for r in keys] == [alert_key(alert.id, 1)]
    finally:
        await pg.close()
