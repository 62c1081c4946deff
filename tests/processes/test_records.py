"""Process rows: one appears when a process starts, beats, and goes when it stops; a row whose
process died unseen is pruned by the others' heartbeats."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import select

from bot.clock import FakeClock, now_ms
from bot.processes.coord import STALE_MS, ProcessRecord
from bot.storage.coordination import ProcessRow
from bot.storage.db import Database


async def _rows(db: Database) -> dict[str, ProcessRow]:
    async with db.session() as s:
        return {r.id: r for r in (await s.execute(select(ProcessRow))).scalars()}


async def test_a_process_row_appears_beats_and_goes(pg_url: str) -> None:
    db = Database(pg_url)
    await db.start()
    clock = FakeClock()
    web, worker = ProcessRecord(db, "web", clock), ProcessRecord(db, "worker", clock)
    try:
        await web.start()
        await worker.start()
        rows = await _rows(db)
        assert set(rows) == {web.id, worker.id}
        assert web.id.startswith("web-") and web.id.split("-")[-2] == str(os.getpid())
        assert rows[web.id].role == "web" and rows[web.id].pid == os.getpid()
        assert rows[web.id].beat_ms == now_ms(clock)

        clock.advance(10)
        await web.beat()
        assert (await _rows(db))[web.id].beat_ms == now_ms(clock)
        live = await ProcessRecord.live(db, clock, within_ms=5_000)
        assert [p.id for p in live] == [web.id]  # the worker has not beaten for 10 s
        assert [p.id for p in await ProcessRecord.live(db, clock, role="worker", within_ms=20_000)]

        clock.advance(STALE_MS / 1000)
        await web.beat()  # the worker's row is a minute old: gone (it died unseen)
        assert set(await _rows(db)) == {web.id}
        await worker.beat()  # …but it was only stalled: its row comes back
        assert set(await _rows(db)) == {web.id, worker.id}

        await web.stop()
        assert set(await _rows(db)) == {worker.id}
    finally:
        await worker.stop()
        await db.close()
    assert not await _rows_after(pg_url)


async def _rows_after(url: str) -> dict[str, ProcessRow]:
    db = Database(url)
    try:
        return await _rows(db)
    finally:
        await db.close()


def test_an_id_fits_its_column_whatever_the_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 300)  # the OS's answer
    record = ProcessRecord(Database("sqlite+aiosqlite://"), "ingest", FakeClock())
    assert record.host == "h" * 300
    assert len(record.id) == 64 and record.id.startswith("ingest-hhh")
