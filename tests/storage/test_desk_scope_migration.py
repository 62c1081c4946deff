"""``0013_desk_scope`` over a database written before desks, on SQLite and on PostgreSQL:
every row becomes the operator desk's, the keys make room for other desks, and a downgrade
keeps the operator's rows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.alerts import AlertStore
from bot.storage.db import MIGRATIONS, Database
from bot.storage.events import POSITION, EventStore
from bot.storage.strategy import JournalEntry, StrategyStore, action_to_json
from bot.storage.trading import ConfirmationRecord, NewJournalEntry, TradingStore
from bot.strategy.model import Action, Leg, StrategyPosition

BEFORE = "0011_strategy_pause"
OTHER = "d0123456789ab"
NOW = 1_700_000_000_000
SOL = "SOL_USDC_PERP"

ACTION = Action(
    kind="open",
    symbol=SOL,
    strategy="directional",
    legs=(Leg(SOL, "Bid", Decimal("2"), expected_price=Decimal("150")),),
    reason="funding",
    funding_rate=Decimal("0.0001"),
    notional=Decimal("300"),
)

#: One row of every per-account table, as version 0011 stored it.
ROWS: dict[str, dict[str, Any]] = {
    "trade_confirmations": dict(
        token="tok", kind="order", user_id=1, chat_id=1, status="pending", mode="paper",
        payload="{}", created_at_ms=NOW, expires_at_ms=NOW + 60_000,
    ),
    "order_journal": dict(
        token="tok", leg=0, user_id=1, chat_id=1, mode="paper", symbol=SOL, side="Bid",
        order_type="Market", quantity="1", post_only=False, reduce_only=False, client_id=42,
        preview="", status="sending", created_at_ms=NOW, updated_at_ms=NOW,
    ),
    "strategy_settings": dict(id=1, mode="approve", config="{}", user_id=1, updated_at_ms=NOW),
    "strategy_positions": dict(
        symbol=SOL, kind="directional", perp_quantity="2", perp_entry="150", spot_quantity="0",
        spot_entry="0", entry_rate="0.0001", opened_at_ms=NOW,
    ),
    "strategy_exits": dict(symbol="BTC_USDC_PERP", exited_at_ms=NOW),
    "strategy_approvals": dict(
        token="ap", symbol=SOL, action=action_to_json(ACTION), status="executing", chat_id=1,
        created_at_ms=NOW, expires_at_ms=NOW,
    ),
    "strategy_actions": dict(
        at_ms=NOW, mode="auto", symbol=SOL, kind="open", strategy="carry", reason="funding",
        order_ids='["o-1"]', perp_quantity="1", spot_quantity="0", problems="[]",
    ),
    "pnl_journal": dict(
        external_id="fill-1", kind="fill", mode="paper", at_ms=NOW, symbol=SOL, quantity="1",
        fee="0.1", amount="-150",
    ),
    "message_buttons": dict(
        chat_id=1, message_id=10, row=0, label="Close", data="close:SOL", kind=POSITION,
        key=SOL, created_at_ms=NOW,
    ),
    "watch_marks": dict(key="liq:1:SOL", at_ms=NOW),
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


def _to(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)

    return run


async def _old_database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(_to(BEFORE))
        for name, values in ROWS.items():
            table = sa.table(name, *(sa.column(c) for c in values))
            await conn.execute(sa.insert(table).values(**values))
    return db


async def test_rows_written_before_desks_become_the_operators(url: str) -> None:
    db = await _old_database(url)
    try:
        await db.start()
        trading, strategy = TradingStore(db), StrategyStore(db)
        mine = await trading.get("tok")
        assert mine is not None and mine.status == "pending"
        assert [r.client_id for r in await trading.unsettled()] == [42]
        assert (await strategy.settings()).mode == "approve"
        book = await strategy.portfolio()
        assert [p.perp_quantity for p in book.positions] == [Decimal("2")]
        assert book.last_exit_ms == {"BTC_USDC_PERP": NOW}
        assert await strategy.executing() == [("ap", ACTION, 1)]
        assert await strategy.reasons_by_order() == {"o-1": "funding"}
        assert [e.external_id for e in await strategy.journal()] == ["fill-1"]
        assert await EventStore(db).live(POSITION, SOL)
        assert await AlertStore(db).mark("liq:1:SOL") is not None

        # Another desk sees none of it, and may hold the same symbol, settings row, external
        # id and mark key.
        other, books = TradingStore(db, desk=OTHER), StrategyStore(db, desk=OTHER)
        assert await other.get("tok") is None and await other.unsettled() == []
        assert (await books.settings()).mode == "off"
        assert (await books.portfolio()).positions == ()
        assert await books.journal() == []
        assert not await EventStore(db, desk=OTHER).live(POSITION, SOL)
        assert await AlertStore(db, desk=OTHER).claim_mark("liq:1:SOL", NOW)
        await books.save_settings(now_ms=NOW, mode="auto")
        await books.put_position(
            StrategyPosition(SOL, "directional", Decimal("-1"), Decimal("151"), NOW, Decimal(0))
        )
        fill = JournalEntry(
            "fill-1", "fill", "paper", NOW, SOL, "Bid", Decimal("1"), Decimal("150"),
            Decimal("0.1"), "USDC", Decimal("-150"),
        )  # fmt: skip
        assert await books.add_journal([fill]) == 1
        await other.journal_add("tok", [], user_id=2, chat_id=2, mode="paper", now_ms=NOW)
        assert (await strategy.settings()).mode == "approve"
        assert [p.perp_quantity for p in (await strategy.portfolio()).positions] == [Decimal(2)]
    finally:
        await db.close()


async def test_new_rows_after_the_upgrade_get_fresh_ids(url: str) -> None:
    """PostgreSQL keeps the tables (and their id sequences); SQLite's rebuilt ones go on
    counting after the copied rows."""
    db = await _old_database(url)
    try:
        await db.start()
        store = TradingStore(db, desk=OTHER)
        await store.add(
            ConfirmationRecord(
                "tok-2", "order", 2, 2, None, "pending", "paper", "{}", None, None, NOW,
                NOW + 60_000, None,
            )
        )  # fmt: skip
        entry = NewJournalEntry(0, SOL, "Bid", "Market", Decimal(1), None, False, False, 7, "")
        assert await store.claim("tok-2", 2, NOW, [entry])
        rows = await store.journal_for("tok-2")
        assert len(rows) == 1 and rows[0].id > 1
    finally:
        await db.close()


async def test_a_downgrade_keeps_the_operators_rows(url: str) -> None:
    db = await _old_database(url)
    try:
        await db.start()
        await StrategyStore(db, desk=OTHER).save_settings(now_ms=NOW, mode="auto")
        await AlertStore(db, desk=OTHER).set_mark("liq:1:SOL", NOW + 1)
        async with db.engine.begin() as conn:
            await conn.run_sync(_to(BEFORE, down=True))
            settings = (await conn.execute(sa.text("SELECT mode FROM strategy_settings"))).all()
            marks = (await conn.execute(sa.text("SELECT at_ms FROM watch_marks"))).all()
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("watch_marks")}
            )
        assert [tuple(r) for r in settings] == [("approve",)]
        assert [tuple(r) for r in marks] == [(NOW,)]
        assert "desk_id" not in columns
        await db.start()  # and up again
        assert (await StrategyStore(db, desk=OPERATOR_DESK).settings()).mode == "approve"
    finally:
        await db.close()
