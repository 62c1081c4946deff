"""Each per-desk store sees and changes only its desk's rows, on SQLite and on PostgreSQL.

Two desks hold the same symbols, journal tokens, client ids, external ids, button keys and mark
keys; a token or id of the other desk is simply not found. The cross-desk questions for the
composition root name exactly the desks with something to finish or a strategy running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.desks_scope import (
    desk_of_tap,
    desks_to_recover,
    desks_with_due_confirmations,
    desks_with_own_keys,
    desks_with_strategy_on,
    desks_with_unfinished_work,
)
from bot.storage.events import ORDER, POSITION, Button, EventStore
from bot.storage.secrets import DeskSecret
from bot.storage.strategy import ActionRecord, JournalEntry, StrategyStore
from bot.storage.trading import (
    CANCELLED,
    DONE,
    EXECUTING,
    KIND_CANCEL,
    PENDING,
    SENDING,
    ConfirmationRecord,
    NewJournalEntry,
    TradingStore,
)
from bot.strategy.model import Action, Leg, StrategyConfig, StrategyPosition

A, B = "dA1b2c3d4e5f6", OPERATOR_DESK
ALICE, BOB = 101, 202
NOW = 1_700_000_000_000
SOL = "SOL_USDC_PERP"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    database = Database(url)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


def confirmation(token: str, user: int, *, status: str = PENDING) -> ConfirmationRecord:
    return ConfirmationRecord(
        token=token,
        kind="order",
        user_id=user,
        chat_id=user,
        message_id=None,
        status=status,
        mode="paper",
        payload="{}",
        result=None,
        replaces=None,
        created_at_ms=NOW,
        expires_at_ms=NOW + 60_000,
        used_at_ms=None,
    )


def leg(client_id: int, *, kind: str = "order", target: str | None = None) -> NewJournalEntry:
    return NewJournalEntry(
        0,
        SOL,
        "Bid",
        "Market",
        Decimal("1"),
        None,
        False,
        False,
        client_id,
        "",
        kind=kind,
        target=target,
    )


async def test_a_desk_never_finds_another_desks_confirmation(db: Database) -> None:
    a, b = TradingStore(db, desk=A), TradingStore(db, desk=B)
    await b.add(confirmation("tok-b", BOB))
    await a.add(confirmation("tok-a", ALICE))

    assert await a.get("tok-b") is None
    await a.set_message("tok-b", 99)
    assert not await a.claim("tok-b", BOB, NOW, [leg(7)])
    assert not await a.transition("tok-b", PENDING, CANCELLED, NOW)
    assert not await a.replace("tok-b", BOB, NOW, confirmation("tok-new", BOB))
    assert await a.get("tok-new") is None and await b.get("tok-new") is None
    assert await a.journal_for("tok-b") == []
    assert [r.token for r in await a.due(NOW + 120_000)] == ["tok-a"]

    untouched = await b.get("tok-b")
    assert untouched is not None
    assert (untouched.status, untouched.message_id) == (PENDING, None)
    assert await b.journal_for("tok-b") == []

    assert await b.claim("tok-b", BOB, NOW, [leg(7)])
    assert [r.token for r in await b.stuck()] == ["tok-b"]
    assert await a.stuck() == []
    assert await b.transition("tok-b", EXECUTING, DONE, NOW, result="{}")
    await b.set_message("tok-b", 5)  # finished_since lists only confirmations with a message
    assert [r.token for r in await b.finished_since(NOW)] == ["tok-b"]
    assert await a.finished_since(NOW) == []


async def test_journal_rows_of_one_token_and_client_id_stay_apart(db: Database) -> None:
    a, b = TradingStore(db, desk=A), TradingStore(db, desk=B)
    for store, user in ((a, ALICE), (b, BOB)):
        await store.journal_add(
            "t", [leg(42)], user_id=user, chat_id=user, mode="paper", now_ms=NOW
        )

    await a.journal_update("t", 0, NOW + 1, status="filled", order_id="o-a")
    mine = await a.journal_for("t")
    assert [(r.user_id, r.status, r.order_id) for r in mine] == [(ALICE, "filled", "o-a")]
    theirs = await b.journal_for("t")
    assert [(r.user_id, r.status, r.order_id) for r in theirs] == [(BOB, SENDING, None)]
    assert [r.user_id for r in await b.unsettled()] == [BOB]
    assert await a.unsettled() == []
    assert [r.user_id for r in await a.journal()] == [ALICE]
    assert await a.journal(user_id=BOB) == []


async def test_event_questions_and_buttons_are_per_desk(db: Database) -> None:
    ta, tb = TradingStore(db, desk=A), TradingStore(db, desk=B)
    ea, eb = EventStore(db, desk=A), EventStore(db, desk=B)
    # B's tap sent order 42 on SOL and a cancel of order "o-1"; A only journaled a cancel-free
    # order with the same token and client id, without a confirmation of its own.
    await tb.add(confirmation("t", BOB))
    assert await tb.claim("t", BOB, NOW, [leg(42)])
    await tb.journal_add(
        "c",
        [leg(43, kind=KIND_CANCEL, target="o-1")],
        user_id=BOB,
        chat_id=BOB,
        mode="paper",
        now_ms=NOW,
    )
    await ta.journal_add("t", [leg(42)], user_id=ALICE, chat_id=ALICE, mode="paper", now_ms=NOW)

    found = await eb.confirmed_order(42)
    assert found is not None and found.user_id == BOB
    assert await ea.confirmed_order(42) is None  # A's row joins no confirmation of A's
    assert await eb.tapped_since(SOL, NOW)
    assert not await ea.tapped_since(SOL, NOW)
    assert await eb.cancel_requested("o-1", SOL, NOW)
    assert not await ea.cancel_requested("o-1", SOL, NOW)

    close = Button(0, "Close", "close:SOL", POSITION, SOL)
    cancel = Button(1, "Cancel", "cancel:o-1", ORDER, "o-1")
    await eb.record(BOB, 10, [close, cancel], NOW)
    await ea.record(BOB, 10, [close], NOW)  # same chat, message id and key: another desk's

    ended = await ea.end(POSITION, SOL, "closed")
    assert [(k.chat_id, k.message_id, k.rows) for k in ended] == [(BOB, 10, ())]
    assert await eb.live(POSITION, SOL)
    assert await eb.fate(POSITION, SOL) is None
    assert await ea.fate(POSITION, SOL) == "closed"
    assert not await ea.live(ORDER, "o-1")
    kept = await ea.drop_button(BOB, 10, "cancel:o-1")
    assert kept.rows == ()
    assert await eb.live(ORDER, "o-1")
    ended = await eb.end(POSITION, SOL, "liquidated")
    assert [k.rows for k in ended] == [((("Cancel", "cancel:o-1"),),)]

    await ea.forget_before(NOW + 1)
    assert await eb.live(ORDER, "o-1")
    assert await ea.fate(POSITION, SOL) is None


async def test_a_positions_messages_text_is_per_desk_and_forgotten_with_its_buttons(
    db: Database,
) -> None:
    ea, eb = EventStore(db, desk=A), EventStore(db, desk=B)
    close = Button(0, "Close", "close:SOL", POSITION, SOL)
    await ea.record(BOB, 10, [close], NOW, text="A's positions")
    await eb.record(BOB, 10, [close], NOW, text="B's positions")
    [k] = await ea.end(POSITION, SOL, "stop-loss@150.5")
    assert (k.text, k.closed) == ("A's positions", ((SOL, "stop-loss@150.5"),))
    [k] = await eb.end(POSITION, SOL, "closed")
    assert (k.text, k.closed) == ("B's positions", ((SOL, "closed"),))
    await ea.forget_before(NOW + 1)
    await ea.record(BOB, 10, [close], NOW + 2)  # the same ids again, recorded without text
    [k] = await ea.end(POSITION, SOL, "closed")
    assert k.text is None  # A's old text went with its buttons
    assert (await eb.drop_button(BOB, 10, "close:SOL")).text == "B's positions"  # B's kept


def _action(symbol: str) -> Action:
    return Action(
        kind="open",
        symbol=symbol,
        strategy="carry",
        legs=(Leg(symbol, "Ask", Decimal("1"), expected_price=Decimal("150")),),
        reason="funding",
        funding_rate=Decimal("0.0001"),
        notional=Decimal("150"),
    )


def _position(quantity: str) -> StrategyPosition:
    return StrategyPosition(
        symbol=SOL,
        kind="directional",
        perp_quantity=Decimal(quantity),
        perp_entry=Decimal("150"),
        opened_at_ms=NOW,
        entry_rate=Decimal("0.0001"),
    )


async def test_strategy_settings_and_book_are_per_desk(db: Database) -> None:
    a, b = StrategyStore(db, desk=A), StrategyStore(db, desk=B)
    await a.save_settings(now_ms=NOW, mode="auto", user_id=ALICE, chat_id=ALICE, paused=True)
    await b.save_settings(now_ms=NOW, config=StrategyConfig(), user_id=BOB)
    sa, sb = await a.settings(), await b.settings()
    assert (sa.mode, sa.user_id, sa.paused) == ("auto", ALICE, True)
    assert (sb.mode, sb.user_id, sb.paused) == ("off", BOB, False)

    await a.put_position(_position("-2"))
    await b.put_position(_position("3"))
    await a.remove_position(SOL, exited_at_ms=NOW + 5)
    assert (await a.portfolio()).positions == ()
    assert (await a.portfolio()).last_exit_ms == {SOL: NOW + 5}
    book = await b.portfolio()
    assert [p.perp_quantity for p in book.positions] == [Decimal("3")]
    assert book.last_exit_ms == {}
    await b.start_cooldown(SOL, at_ms=NOW + 9)
    assert (await a.portfolio()).last_exit_ms == {SOL: NOW + 5}


async def test_strategy_approvals_actions_and_pnl_journal_are_per_desk(db: Database) -> None:
    a, b = StrategyStore(db, desk=A), StrategyStore(db, desk=B)
    await b.add_approval(
        "ap-b", _action(SOL), chat_id=BOB, message_id=None, now_ms=NOW, expires_at_ms=NOW + 60_000
    )
    await a.add_approval(
        "ap-a",
        _action(SOL),
        chat_id=ALICE,
        message_id=None,
        now_ms=NOW,
        expires_at_ms=NOW + 60_000,
        status="executing",
    )
    assert await a.approval("ap-b") is None
    assert not await a.finish_approval("ap-b", "approved")
    await a.set_approval_message("ap-b", 77)
    await a.extend_approval("ap-b", NOW + 1)
    got = await b.approval("ap-b")
    assert got is not None and got[1] == "pending"
    assert await b.pending_symbols(NOW + 30_000) == {SOL}  # not shortened by A's extend
    assert await a.pending_symbols(NOW) == set()
    assert [t for t, _, _ in await a.executing()] == ["ap-a"]
    assert await b.executing() == []

    for store, oid in ((a, "o-a"), (b, "o-b")):
        await store.add_action(
            ActionRecord(
                NOW,
                "auto",
                SOL,
                "open",
                "carry",
                f"why {oid}",
                (oid,),
                Decimal("1"),
                None,
                Decimal("0"),
                None,
                (),
            )
        )
    assert [r.order_ids for r in await a.actions()] == [("o-a",)]
    assert await b.reasons_by_order() == {"o-b": "why o-b"}

    def fill(amount: str) -> JournalEntry:
        return JournalEntry(
            "fill-1",
            "fill",
            "paper",
            NOW,
            SOL,
            "Bid",
            Decimal("1"),
            Decimal("150"),
            Decimal("0.1"),
            "USDC",
            Decimal(amount),
        )

    assert await a.add_journal([fill("-150")]) == 1
    assert await b.add_journal([fill("-300")]) == 1  # the same external id, another account
    assert await a.add_journal([fill("-150")]) == 0
    assert [e.amount for e in await a.journal()] == [Decimal("-150")]
    assert [e.amount for e in await b.journal(mode="paper")] == [Decimal("-300")]


async def test_watch_marks_are_per_desk(db: Database) -> None:
    a, b = AlertStore(db, desk=A), AlertStore(db, desk=B)
    assert await a.claim_mark(f"fund:{ALICE}:{SOL}:1", NOW)
    assert await b.claim_mark(f"fund:{ALICE}:{SOL}:1", NOW)  # the same user in another desk
    assert not await a.claim_mark(f"fund:{ALICE}:{SOL}:1", NOW)
    await a.set_mark("liq", NOW, "earns")
    assert await b.mark("liq") is None
    await b.set_mark("liq", NOW + 1, "pays")
    mark = await a.mark("liq")
    assert mark is not None and (mark.at_ms, mark.value) == (NOW, "earns")


async def test_cross_desk_questions_name_the_desks_with_work(db: Database) -> None:
    assert await desks_with_unfinished_work(db) == set()
    c, d, e, f, g = "dc", "dd", "de", "df", "dg"
    # c: a confirmation left executing; d: a journal row still sending; e: a strategy action
    # left executing; f: a ✅ still on offer; g: only finished work.
    tc = TradingStore(db, desk=c)
    await tc.add(confirmation("tc", ALICE))
    assert await tc.claim("tc", ALICE, NOW)
    await TradingStore(db, desk=d).journal_add(
        "td", [leg(1)], user_id=ALICE, chat_id=ALICE, mode="paper", now_ms=NOW
    )
    await StrategyStore(db, desk=e).add_approval(
        "ae",
        _action(SOL),
        chat_id=ALICE,
        message_id=None,
        now_ms=NOW,
        expires_at_ms=NOW,
        status="executing",
    )
    await TradingStore(db, desk=f).add(confirmation("tf", ALICE))
    tg = TradingStore(db, desk=g)
    await tg.add(confirmation("tg", ALICE, status=DONE))
    await tg.journal_add("tg", [leg(2)], user_id=ALICE, chat_id=ALICE, mode="paper", now_ms=NOW)
    await tg.journal_update("tg", 0, NOW, status="filled")

    assert await desks_to_recover(db) == {c, d, e}
    assert await desks_with_unfinished_work(db) == {c, d, e, f}

    assert await desks_with_strategy_on(db) == set()
    await StrategyStore(db, desk=c).save_settings(now_ms=NOW, mode="approve", paused=True)
    await StrategyStore(db, desk=d).save_settings(now_ms=NOW, mode="off")
    await StrategyStore(db, desk=e).save_settings(now_ms=NOW, mode="auto")
    assert await desks_with_strategy_on(db) == {c, e}


async def test_one_question_names_the_desks_with_a_confirmation_due(db: Database) -> None:
    f, g, h = "df", "dg", "dh"
    await TradingStore(db, desk=f).add(confirmation("tf", ALICE))  # due at NOW + 60 s
    await TradingStore(db, desk=g).add(confirmation("tg", ALICE, status=DONE))
    th = TradingStore(db, desk=h)
    await th.add(confirmation("th", BOB))
    assert await th.claim("th", BOB, NOW)  # executing: not the sweeper's
    assert await desks_with_due_confirmations(db, NOW) == set()
    assert await desks_with_due_confirmations(db, NOW + 60_000) == {f}
    assert [r.token for r in await TradingStore(db, desk=f).due(NOW + 60_000)] == ["tf"]


async def test_a_tapped_button_names_the_desk_it_belongs_to(db: Database) -> None:
    await TradingStore(db, desk=A).add(confirmation("tok-a", ALICE))
    await StrategyStore(db, desk=B).add_approval(
        "ap-b", _action(SOL), chat_id=ALICE, message_id=None, now_ms=NOW, expires_at_ms=NOW
    )
    await EventStore(db, desk=B).record(ALICE, 31, [Button(0, "Close", "close:SOL")], NOW)
    assert await desk_of_tap(db, ALICE, 30, "tok-a") == A  # an order's ✅ / ❌
    assert await desk_of_tap(db, ALICE, 30, "ap-b") == B  # a strategy proposal's
    assert await desk_of_tap(db, ALICE, 31, None) == B  # Close under B's /positions
    assert await desk_of_tap(db, ALICE, 32, "nothing") is None
    assert await desk_of_tap(db, BOB, 31, None) is None  # another chat's message 31


async def test_one_question_names_the_desks_with_their_own_keys(db: Database) -> None:
    async with db.session() as s, s.begin():
        for desk, venue in [(A, "backpack"), (B, "hyperliquid"), ("dC", "paper")]:
            s.add(
                DeskSecret(desk_id=desk, venue=venue, sealed="v1.x", hint="ab", created_at_ms=NOW)
            )
    assert await desks_with_own_keys(db, "backpack") == {A}
    assert await desks_with_own_keys(db, "hyperliquid") == {B}
