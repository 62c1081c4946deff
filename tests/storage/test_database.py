"""The database on SQLite and on a real PostgreSQL server: migrations, the single-instance lock
(released by the OS or the server when its holder is SIGKILLed), the confirmation claim under
concurrent taps, and recovery after a kill."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.storage.db import Database, InstanceLocked
from bot.storage.trading import PENDING, ConfirmationRecord, NewJournalEntry, TradingStore
from tests.bot.test_lock import lock_files, second_bot_is_refused
from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN, BotProcess, bot_env, sim_process
from tests.fakes.telegram import FakeTelegram
from tests.keys import new_keypair

HOLD = """
import asyncio, sys
from bot.storage.db import Database
async def main() -> None:
    db = Database(sys.argv[1])
    await db.acquire_lock()
    print("locked", flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_migrations_apply_and_are_idempotent(url: str) -> None:
    for _ in range(2):
        db = Database(url)
        await db.start()
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("order_journal")}
            )
        await db.close()
        assert {"trade_confirmations", "order_journal", "strategy_approvals"} <= tables
        assert "instance_lock" not in tables  # the heartbeat lock is gone
        assert {"kind", "origin", "target", "client_id"} <= columns


async def test_a_second_instance_is_refused_until_the_first_closes(url: str) -> None:
    first, second = Database(url), Database(url)
    await first.acquire_lock()
    with pytest.raises(InstanceLocked, match="already running on this database"):
        await second.acquire_lock()
    await first.close()
    await second.acquire_lock()
    await second.close()


async def test_the_sqlite_lock_is_one_fixed_file_and_old_token_locks_go(tmp_path: Path) -> None:
    old = [tmp_path / "bot.db.0123456789ab.lock", tmp_path / "bot.db.ba9876543210.lock"]
    for path in old:
        path.write_text("1\n")
    keep = tmp_path / "bot.db.notes.lock"  # not one of ours: left alone
    keep.write_text("")
    for _ in range(3):  # every run uses the same file
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.acquire_lock()
        await db.close()
    assert lock_files(tmp_path) == ["bot.db.lock", "bot.db.notes.lock"]


async def test_a_sigkilled_holder_never_blocks_the_next_start(url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD, url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.strip() == b"locked"
        probe = Database(url)
        with pytest.raises(InstanceLocked):
            await probe.acquire_lock()
        await probe.close()
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        db = Database(url)
        deadline = time.monotonic() + 5
        while True:  # the server notices the dead session within moments; the OS at once
            try:
                await db.acquire_lock()
                break
            except InstanceLocked:
                assert time.monotonic() < deadline, "a dead process still blocks the lock"
                await asyncio.sleep(0.1)
        await db.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.timeout(180)
async def test_a_second_bot_on_the_same_postgres_database_is_refused(
    pg_url: str, tmp_path: Path
) -> None:
    """Two ``python -m bot`` processes (different tokens) on one
    PostgreSQL database: the second exits with the message, the first keeps answering."""
    await second_bot_is_refused(tmp_path, DATABASE_URL=pg_url)


async def test_concurrent_taps_claim_a_confirmation_once(url: str) -> None:
    db = Database(url)
    await db.start()
    store = TradingStore(db)
    now = int(time.time() * 1000)
    await store.add(
        ConfirmationRecord(
            token="tok",
            kind="order",
            user_id=ALICE,
            chat_id=ALICE,
            message_id=None,
            status=PENDING,
            mode="live",
            payload="{}",
            result=None,
            replaces=None,
            created_at_ms=now,
            expires_at_ms=now + 60_000,
            used_at_ms=None,
        )
    )
    others = [Database(url) for _ in range(7)]  # other connections, as other processes would be

    def entry(cid: int) -> NewJournalEntry:
        return NewJournalEntry(
            0, "BTC_USDC_PERP", "BUY", "MARKET", Decimal("0.01"), None, False, False, cid, ""
        )

    results = await asyncio.gather(
        *(
            TradingStore(d).claim("tok", ALICE, now, [entry(i + 1)])
            for i, d in enumerate([db, *others] * 3)
        )
    )
    assert sum(results) == 1
    assert len(await store.journal_for("tok")) == 1  # only the winner's journal row exists
    for d in [db, *others]:
        await d.close()


@pytest.mark.timeout(120)
async def test_recovery_after_a_kill_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """The crash path end to end with ``DATABASE_URL=postgresql+asyncpg://…``."""
    keys = new_keypair()
    async with sim_process() as sim, FakeTelegram(TOKEN) as tg:
        env = bot_env(tg, tmp_path, keys=keys, sim_url=sim.rest_url, DATABASE_URL=pg_url)
        bot = BotProcess(env, tmp_path / "bot.log")
        await bot.start(tg, crash_at="answered")
        preview = await tg.ask(ALICE, "/buy BTC 0.01", "order preview", timeout=10)
        await tg.tap(ALICE, preview, preview.button("Confirm"))
        assert await bot.wait_dead() == -signal.SIGKILL
        mark = len(tg.messages)
        started = time.monotonic()
        await bot.start(tg)
        try:
            assert time.monotonic() - started < 15
            told = await tg.next_message(ALICE, "After a restart", after=mark, timeout=10)
            assert "filled at" in told.text
            db = Database(pg_url)
            async with db.session() as s:
                rows = (await s.execute(text("SELECT status, client_id FROM order_journal"))).all()
                status = (await s.execute(text("SELECT status FROM trade_confirmations"))).scalar()
            await db.close()
            assert [r.status for r in rows] == ["filled"] and status == "done"
            control = Control(sim)
            acc = (await control.state())["accounts"][keys.api_key]
            await control.close()
            assert [o["clientId"] for o in acc["orders"]] == [rows[0].client_id]
        finally:
            await bot.stop()
