"""Deferring the strategy's cycles (the tick's work, and what another process may ask for when
a funding alert fires): one waiting job per desk whose strategy is on, locked by its desk."""

from __future__ import annotations

from sqlalchemy import text

from bot.processes.engine import conninfo, ensure_schema, make_app
from bot.processes.tasks import defer_strategy_cycles
from bot.storage.db import Database
from bot.storage.strategy import StrategyStore


async def test_one_waiting_cycle_per_desk_with_the_strategy_on(pg_url: str) -> None:
    db = Database(pg_url)
    await db.start()
    dsn = conninfo(pg_url)
    await ensure_schema(dsn)
    app = make_app(dsn)
    try:
        for desk, mode in [("operator", "auto"), ("dA", "approve"), ("dB", "off")]:
            await StrategyStore(db, desk=desk).save_settings(now_ms=1, mode=mode)
        async with app.open_async():
            assert await defer_strategy_cycles(app, db) == 2
            assert await defer_strategy_cycles(app, db) == 0  # both still wait: not twice
        async with db.session() as s:
            found = (
                await s.execute(
                    text(
                        "SELECT args->>'desk_id', lock, queueing_lock, status::text "
                        "FROM procrastinate_jobs WHERE task_name = 'strategy_cycle' ORDER BY id"
                    )
                )
            ).all()
        assert [tuple(r) for r in found] == [
            ("dA", "desk:dA", "desk:dA", "todo"),
            ("operator", "desk:operator", "desk:operator", "todo"),
        ]
    finally:
        await db.close()
