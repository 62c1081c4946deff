"""Trading storage: single-use confirmations and the order journal.

A confirmation row is the pending action behind one ✅ button. Its ``token`` is the callback
data, so it is random (see :mod:`bot.services.orders.confirm`) and the primary key. Every state
change is a conditional ``UPDATE … WHERE status = <expected>`` whose rowcount decides who won: two
taps, two devices or a replay after a restart can never both move a row out of ``pending``.

Status graph::

    pending ──claim──▶ executing ──finish──▶ done
       │                   └──release──▶ pending   (nothing was sent, e.g. exchange down)
       ├──cancel──▶ cancelled
       ├──expire──▶ expired
       └──replace─▶ requoted  (a fresh confirmation with a new token takes over)

The journal has one row per order the bot sends, written *before* the order goes out (status
``sending`` with its ``clientId``) and updated with the exchange's answer, so even a crash
mid-send leaves a record that can be looked up by ``clientId``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.faults import crash_point
from bot.keyring.ring import OPERATOR_DESK
from bot.storage.db import Database
from bot.storage.trading_rows import (
    CANCELLED,
    DONE,
    EXECUTING,
    EXPIRED,
    KIND_CANCEL,
    KIND_ORDER,
    PENDING,
    REQUOTED,
    SENDING,
    Confirmation,
    ConfirmationRecord,
    JournalRecord,
    NewJournalEntry,
    OrderJournalEntry,
    confirmation_row,
    journal_snapshot,
    journal_values,
    snapshot,
)

__all__ = [
    "CANCELLED",
    "DONE",
    "EXECUTING",
    "EXPIRED",
    "KIND_CANCEL",
    "KIND_ORDER",
    "PENDING",
    "REQUOTED",
    "SENDING",
    "Confirmation",
    "ConfirmationRecord",
    "JournalRecord",
    "NewJournalEntry",
    "OrderJournalEntry",
    "TradingStore",
]


async def _rowcount(s: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await s.execute(stmt))
    return int(result.rowcount)


class TradingStore:
    """Repository for one desk's confirmations and order journal; every method is one
    transaction, and sees and changes only rows of its desk (another desk's token is not
    found)."""

    def __init__(self, db: Database, *, desk: str = OPERATOR_DESK) -> None:
        self.db = db
        self.desk = desk

    # ------------------------------------------------------------------ confirmations

    async def add(self, record: ConfirmationRecord) -> None:
        """Store a new confirmation (normally ``pending``)."""
        async with self.db.session() as s, s.begin():
            s.add(confirmation_row(record, self.desk))

    async def get(self, token: str) -> ConfirmationRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(Confirmation).where(*self._mine(token)))
            return snapshot(row) if row is not None else None

    async def set_message(self, token: str, message_id: int) -> None:
        """Remember which chat message shows the confirmation (for editing it later)."""
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(Confirmation).where(*self._mine(token)).values(message_id=message_id)
            )

    async def claim(
        self,
        token: str,
        user_id: int,
        now_ms: int,
        journal: Sequence[NewJournalEntry] = (),
    ) -> bool:
        """Atomically move ``pending`` → ``executing`` for its owner before it expires, and in
        the same transaction write the journal rows of the orders about to be sent.

        Exactly one caller per token ever gets ``True``.
        """
        # One statement decides the winner (and hands back what the journal rows need), one
        # inserts them: the single transaction on the tap's path before the order goes out.
        async with self.db.session() as s, s.begin():
            won = (
                await s.execute(
                    update(Confirmation)
                    .where(
                        *self._mine(token),
                        Confirmation.status == PENDING,
                        Confirmation.user_id == user_id,
                        Confirmation.expires_at_ms > now_ms,
                    )
                    .values(status=EXECUTING, used_at_ms=now_ms)
                    .returning(Confirmation.chat_id, Confirmation.mode)
                )
            ).first()
            if won is None:
                return False
            if journal:
                await s.execute(
                    insert(OrderJournalEntry),
                    [
                        journal_values(
                            token, user_id, won.chat_id, won.mode, e, desk=self.desk, now_ms=now_ms
                        )
                        for e in journal
                    ],
                )
            crash_point("claiming")  # inside the transaction: a crash here commits nothing
            return True

    async def transition(
        self,
        token: str,
        frm: str,
        to: str,
        now_ms: int,
        *,
        user_id: int | None = None,
        result: str | None = None,
    ) -> bool:
        """Conditional status change (``cancel``, ``expire``, ``finish``, ``release``)."""
        conds = [*self._mine(token), Confirmation.status == frm]
        if user_id is not None:
            conds.append(Confirmation.user_id == user_id)
        values: dict[str, Any] = {"status": to}
        if result is not None:
            values["result"] = result
        if to != PENDING:
            values["used_at_ms"] = now_ms
        async with self.db.session() as s, s.begin():
            return await _rowcount(s, update(Confirmation).where(*conds).values(**values)) == 1

    async def replace(
        self, old: str, user_id: int, now_ms: int, new: ConfirmationRecord, *, frm: str = PENDING
    ) -> bool:
        """Atomically retire ``old`` (``frm`` → ``requoted``) and store ``new`` in its place."""
        async with self.db.session() as s, s.begin():
            won = await _rowcount(
                s,
                update(Confirmation)
                .where(
                    *self._mine(old),
                    Confirmation.status == frm,
                    Confirmation.user_id == user_id,
                )
                .values(status=REQUOTED, used_at_ms=now_ms, result=new.token),
            )
            if won != 1:
                return False
            s.add(confirmation_row(new, self.desk))
            return True

    async def due(self, now_ms: int, limit: int = 100) -> list[ConfirmationRecord]:
        """Pending confirmations whose time is up (oldest first)."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Confirmation)
                .where(
                    Confirmation.desk_id == self.desk,
                    Confirmation.status == PENDING,
                    Confirmation.expires_at_ms <= now_ms,
                )
                .order_by(Confirmation.expires_at_ms)
                .limit(limit)
            )
            return [snapshot(r) for r in rows]

    async def stuck(self) -> list[ConfirmationRecord]:
        """Confirmations left ``executing`` (the process stopped mid-send)."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Confirmation).where(
                    Confirmation.desk_id == self.desk, Confirmation.status == EXECUTING
                )
            )
            return [snapshot(r) for r in rows]

    async def finished_since(self, since_ms: int) -> list[ConfirmationRecord]:
        """Confirmations that became final (done, cancelled, expired) since ``since_ms`` and
        have a message showing them."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Confirmation).where(
                    Confirmation.desk_id == self.desk,
                    Confirmation.status.in_((DONE, CANCELLED, EXPIRED)),
                    Confirmation.used_at_ms >= since_ms,
                    Confirmation.message_id.is_not(None),
                )
            )
            return [snapshot(r) for r in rows]

    # ------------------------------------------------------------------ journal

    async def journal_add(
        self,
        token: str,
        entries: Sequence[NewJournalEntry],
        *,
        user_id: int,
        chat_id: int,
        mode: str,
        now_ms: int,
    ) -> None:
        """Commit journal rows (status ``sending``) for requests about to go out that no
        confirmation claim covers (strategy legs in auto mode, unwinds, cancels)."""
        async with self.db.session() as s, s.begin():
            for entry in entries:
                values = journal_values(
                    token, user_id, chat_id, mode, entry, desk=self.desk, now_ms=now_ms
                )
                s.add(OrderJournalEntry(**values))

    async def unsettled(self) -> list[JournalRecord]:
        """Journal rows whose request may have gone out but whose outcome was never recorded."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(OrderJournalEntry)
                .where(OrderJournalEntry.desk_id == self.desk, OrderJournalEntry.status == SENDING)
                .order_by(OrderJournalEntry.id)
            )
            return [journal_snapshot(r) for r in rows]

    async def journal_update(
        self,
        token: str,
        leg: int,
        now_ms: int,
        *,
        status: str,
        order_id: str | None = None,
        executed_quantity: Decimal | None = None,
        avg_price: Decimal | None = None,
        error: str | None = None,
        result: str | None = None,
    ) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(OrderJournalEntry)
                .where(
                    OrderJournalEntry.desk_id == self.desk,
                    OrderJournalEntry.token == token,
                    OrderJournalEntry.leg == leg,
                )
                .values(
                    status=status,
                    order_id=order_id,
                    executed_quantity=executed_quantity,
                    avg_price=avg_price,
                    error=error,
                    result=result,
                    updated_at_ms=now_ms,
                )
            )

    async def journal_for(self, token: str) -> list[JournalRecord]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(OrderJournalEntry)
                .where(OrderJournalEntry.desk_id == self.desk, OrderJournalEntry.token == token)
                .order_by(OrderJournalEntry.leg)
            )
            return [journal_snapshot(r) for r in rows]

    async def journal(self, user_id: int | None = None, limit: int = 50) -> list[JournalRecord]:
        """The desk's newest journal rows (of one user, or of everyone on the desk)."""
        stmt = (
            select(OrderJournalEntry)
            .where(OrderJournalEntry.desk_id == self.desk)
            .order_by(OrderJournalEntry.id.desc())
            .limit(limit)
        )
        if user_id is not None:
            stmt = stmt.where(OrderJournalEntry.user_id == user_id)
        async with self.db.session() as s:
            return [journal_snapshot(r) for r in await s.scalars(stmt)]

    def _mine(self, token: str) -> tuple[ColumnElement[bool], ...]:
        """The confirmation ``token`` of this desk (a token of another desk is not found)."""
        return (Confirmation.token == token, Confirmation.desk_id == self.desk)
