"""The outbox as a table (PostgreSQL) and one sender: what a note becomes — merged messages,
keyboards, edits, hooks, a dedupe key, quiet hours — and the models matching migration 0016."""

from __future__ import annotations

import time
from dataclasses import dataclass

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.clock import FakeClock, SystemClock
from bot.services.notices.outbox import LIMIT, Note, Notices, Outbox
from bot.services.notices.table import KEEP_MS, TableOutbox
from bot.storage.alerts import NotifySettings
from bot.storage.db import Database
from bot.storage.models import load_all
from bot.storage.outbox import OutboxMessage
from jobs.outbox import TelegramMarkupCodec
from tests.services.notices.botapi import BotApi
from tests.services.notices.tablekit import loud, senders, table

KEYS = InlineKeyboardMarkup([[InlineKeyboardButton("✅", callback_data="ok:1")]])


async def _rows(url: str) -> list[OutboxMessage]:
    db = Database(url)
    try:
        async with db.session() as s:
            found = await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))
            return list(found.scalars())
    finally:
        await db.close()


async def test_the_models_match_migration_0016(db_url: str) -> None:
    def diff(conn: Connection) -> list[object]:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_object": lambda o, name, kind, *_: (
                    kind != "table" or str(name).startswith("outbox_")
                ),
                "compare_type": True,
            },
        )
        return [d for d in compare_metadata(ctx, load_all().metadata) if _ours(d)]

    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.close()


def _ours(d: object) -> bool:
    return "outbox_" in repr(d)


async def test_both_outboxes_are_notices(db_url: str) -> None:
    one: Notices = Outbox(SystemClock(), loud)
    db = Database(db_url)
    many: Notices = TableOutbox(db, SystemClock(), TelegramMarkupCodec())
    assert isinstance(one, Notices)
    assert isinstance(many, Notices)
    await db.close()


async def test_merged_notes_keyboards_edits_and_the_hook(db_url: str, api: BotApi) -> None:
    heard: list[tuple[str, int]] = []

    async def proposal(rest: str, message_id: int) -> None:
        heard.append((rest, message_id))

    async with table(db_url) as outbox:
        for i in range(3):  # three in a row merge into one message
            outbox.send(Note(501, 501, f"fill {i}"))
        outbox.send(Note(501, 501, "approve?", KEYS, hook="proposal:d1:tok:en"))
        outbox.send(Note(501, 501, "after"))
        outbox.send(Note(501, 501, "x" * (LIMIT - 4)))  # too long to join "after"
        await outbox.stop()  # every row written before a sender looks
        async with senders(db_url, api.url, hooks={"proposal": proposal}):
            await api.wait_for(lambda: len(api.texts(501)) == 4)
            proposal_id = next(a.message_id for a in api.arrivals if a.text == "approve?")
            await api.wait_for(lambda: heard == [("d1:tok:en", proposal_id)])
            outbox.send(Note(501, 501, "approved", edit=proposal_id))
            empty = InlineKeyboardMarkup([])
            outbox.send(Note(501, 501, "", empty, edit=proposal_id, only_markup=True))
            outbox.start()
            await outbox.drain()
    assert api.texts(501) == ["fill 0\n\nfill 1\n\nfill 2", "approve?", "after", "x" * (LIMIT - 4)]
    sent = next(a for a in api.arrivals if a.text == "approve?")
    assert sent.markup == {"inline_keyboard": [[{"text": "✅", "callback_data": "ok:1"}]]}
    edits = [(a.method, a.message_id, a.text) for a in api.arrivals if a.method != "sendMessage"]
    assert edits == [
        ("editMessageText", proposal_id, "approved"),
        ("editMessageReplyMarkup", proposal_id, ""),
    ]
    rows = await _rows(db_url)
    assert all(r.sent_ms is not None for r in rows)
    assert [r.message_id for r in rows if r.hook] == [proposal_id]


async def test_a_dedupe_key_makes_the_same_notice_one_message(db_url: str, api: BotApi) -> None:
    async with table(db_url) as outbox:
        assert await outbox.put(Note(502, 502, "BTC above 70k", dedupe_key="alert:7:1"))
        assert not await outbox.put(Note(502, 502, "BTC above 70k", dedupe_key="alert:7:1"))
        outbox.send(Note(502, 502, "BTC above 70k", dedupe_key="alert:7:1"))
        outbox.send(Note(502, 502, "BTC above 71k", dedupe_key="alert:7:2", critical=True))
        async with senders(db_url, api.url):
            await outbox.drain()
    assert api.texts(502) == ["BTC above 70k\n\nBTC above 71k"]
    assert len(await _rows(db_url)) == 2


@dataclass
class Quiet:
    """Users in quiet hours until told otherwise (the hours cover the current one)."""

    on: bool = True

    async def __call__(self, user_id: int) -> NotifySettings:
        hour = time.gmtime().tm_hour
        if not self.on:
            return NotifySettings(user_id, user_id)
        return NotifySettings(user_id, user_id, quiet_start=hour, quiet_end=(hour + 1) % 24)


async def test_quiet_hours_hold_a_note_until_they_end(db_url: str, api: BotApi) -> None:
    quiet = Quiet()
    async with table(db_url, settings=quiet) as outbox:
        outbox.send(Note(503, 503, "funding in 1h"))  # held
        outbox.send(Note(503, 503, "liquidation near", critical=True))  # goes anyway
        outbox.send(Note(503, 503, "edited", edit=77))  # edits go anyway
        async with senders(db_url, api.url, settings=quiet):
            await api.wait_for(lambda: len(api.arrivals) == 2)
            await outbox.count()
            assert len(outbox.held) == 1
            held = [r for r in await _rows(db_url) if r.sent_ms is None]
            assert [r.text for r in held] == ["funding in 1h"]
            assert held[0].not_before_ms % 3_600_000 == 0  # the top of the next hour
            assert held[0].not_before_ms > held[0].created_ms
            # The user ends quiet hours early: the periodic release lets the note go now.
            assert await outbox.release_held() == 0
            quiet.on = False
            assert await outbox.release_held() == 1
            await api.wait_for(lambda: "funding in 1h" in api.texts(503))
    assert api.texts(503) == ["liquidation near", "funding in 1h"]


async def test_loud_users_are_not_held(db_url: str, api: BotApi) -> None:
    async with table(db_url, settings=loud) as outbox:
        outbox.send(Note(504, 504, "hello"))
        async with senders(db_url, api.url):
            await outbox.drain()
        assert await outbox.release_held() == 0
    assert api.texts(504) == ["hello"]


async def test_sent_rows_are_pruned_after_a_week(db_url: str, api: BotApi) -> None:
    clock = FakeClock(time.time())
    async with table(db_url, clock) as outbox:
        await outbox.put(Note(505, 505, "old news", dedupe_key="alert:1:1"))
        async with senders(db_url, api.url):
            await api.wait_for(lambda: api.texts(505) == ["old news"])
        await outbox.put(Note(505, 505, "later", edit=1))  # no sender: never sent
        assert await outbox.prune() == 0
        clock.advance(KEEP_MS / 1000 + 60)
        assert await outbox.prune() == 1
        assert [r.text for r in await _rows(db_url)] == ["later"]
        # Forgotten, its key may be used again.
        assert await outbox.put(Note(505, 505, "old news", dedupe_key="alert:1:1"))
