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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CursorResult,
    Integer,
    String,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from bot.faults import crash_point
from bot.keyring.ring import OPERATOR_DESK
from bot.storage.base import Base, DecimalText, desk_column
from bot.storage.db import Database

PENDING = "pending"
EXECUTING = "executing"
DONE = "done"
CANCELLED = "cancelled"
EXPIRED = "expired"
REQUOTED = "requoted"

#: Journal row kinds and the status of a row whose request may be in flight.
KIND_ORDER = "order"
KIND_CANCEL = "cancel"
SENDING = "sending"


class Confirmation(Base):
    """One pending (or settled) action behind a ✅ / ❌ pair of buttons."""

    __tablename__ = "trade_confirmations"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    desk_id: Mapped[str] = desk_column()
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(8))
    payload: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    replaces: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OrderJournalEntry(Base):
    """One order the bot sent (or tried to): who asked, when, the preview, the result."""

    __tablename__ = "order_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    desk_id: Mapped[str] = desk_column()
    token: Mapped[str] = mapped_column(String(64))
    leg: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    post_only: Mapped[bool] = mapped_column(Boolean)
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    client_id: Mapped[int] = mapped_column(BigInteger)
    preview: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    executed_quantity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    avg_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_ORDER)
    origin: Mapped[str | None] = mapped_column(String(96), nullable=True)
    target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: ``None``: Backpack; ``hedge``: the hedge venue (where recovery must look the order up).
    venue: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The id the venue knows the order by when it is not ``client_id`` itself (Hyperliquid's
    #: hex cloid); recovery looks the order up by it on ``venue``.
    venue_client_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    trigger_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    stop_loss: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    take_profit: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)


@dataclass(frozen=True, slots=True)
class ConfirmationRecord:
    """A detached snapshot of a :class:`Confirmation` row."""

    token: str
    kind: str
    user_id: int
    chat_id: int
    message_id: int | None
    status: str
    mode: str
    payload: str
    result: str | None
    replaces: str | None
    created_at_ms: int
    expires_at_ms: int
    used_at_ms: int | None


@dataclass(frozen=True, slots=True)
class NewJournalEntry:
    """What is known about an order just before it is sent."""

    leg: int
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    post_only: bool
    reduce_only: bool
    client_id: int
    preview: str
    kind: str = KIND_ORDER
    origin: str | None = None
    target: str | None = None
    venue: str | None = None  # None: Backpack; "hedge" or a venue id: a hedge venue
    venue_client_id: str | None = None  # the venue's own client id (Hyperliquid: a cloid)
    trigger_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """A detached snapshot of a :class:`OrderJournalEntry` row."""

    id: int
    token: str
    leg: int
    user_id: int
    chat_id: int
    mode: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    client_id: int
    status: str
    order_id: str | None
    executed_quantity: Decimal | None
    avg_price: Decimal | None
    error: str | None
    created_at_ms: int
    updated_at_ms: int
    post_only: bool = False
    reduce_only: bool = False
    kind: str = KIND_ORDER
    origin: str | None = None
    target: str | None = None
    result: str | None = None
    venue: str | None = None  # None: Backpack; "hedge" or a venue id: a hedge venue
    venue_client_id: str | None = None  # the venue's own client id (Hyperliquid: a cloid)
    trigger_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


def _snap(row: Confirmation) -> ConfirmationRecord:
    return ConfirmationRecord(
        token=row.token,
        kind=row.kind,
        user_id=row.user_id,
        chat_id=row.chat_id,
        message_id=row.message_id,
        status=row.status,
        mode=row.mode,
        payload=row.payload,
        result=row.result,
        replaces=row.replaces,
        created_at_ms=row.created_at_ms,
        expires_at_ms=row.expires_at_ms,
        used_at_ms=row.used_at_ms,
    )


def _jsnap(row: OrderJournalEntry) -> JournalRecord:
    return JournalRecord(
        id=row.id,
        token=row.token,
        leg=row.leg,
        user_id=row.user_id,
        chat_id=row.chat_id,
        mode=row.mode,
        symbol=row.symbol,
        side=row.side,
        order_type=row.order_type,
        quantity=row.quantity,
        price=row.price,
        client_id=row.client_id,
        status=row.status,
        order_id=row.order_id,
        executed_quantity=row.executed_quantity,
        avg_price=row.avg_price,
        error=row.error,
        created_at_ms=row.created_at_ms,
        updated_at_ms=row.updated_at_ms,
        post_only=row.post_only,
        reduce_only=row.reduce_only,
        kind=row.kind,
        origin=row.origin,
        target=row.target,
        result=row.result,
        venue=row.venue,
        venue_client_id=row.venue_client_id,
        trigger_price=row.trigger_price,
        stop_loss=row.stop_loss,
        take_profit=row.take_profit,
    )


def _journal_values(
    token: str,
    user_id: int,
    chat_id: int,
    mode: str,
    entry: NewJournalEntry,
    *,
    desk: str,
    now_ms: int,
) -> dict[str, Any]:
    return dict(
        desk_id=desk,
        token=token,
        leg=entry.leg,
        user_id=user_id,
        chat_id=chat_id,
        mode=mode,
        symbol=entry.symbol,
        side=entry.side,
        order_type=entry.order_type,
        quantity=entry.quantity,
        price=entry.price,
        post_only=entry.post_only,
        reduce_only=entry.reduce_only,
        client_id=entry.client_id,
        preview=entry.preview,
        status=SENDING,
        kind=entry.kind,
        origin=entry.origin,
        target=entry.target,
        venue=entry.venue,
        venue_client_id=entry.venue_client_id,
        trigger_price=entry.trigger_price,
        stop_loss=entry.stop_loss,
        take_profit=entry.take_profit,
        created_at_ms=now_ms,
        updated_at_ms=now_ms,
    )


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
            s.add(_row(record, self.desk))

    async def get(self, token: str) -> ConfirmationRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(Confirmation).where(*self._mine(token)))
            return _snap(row) if row is not None else None

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
                        _journal_values(
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
            s.add(_row(new, self.desk))
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
            return [_snap(r) for r in rows]

    async def stuck(self) -> list[ConfirmationRecord]:
        """Confirmations left ``executing`` (the process stopped mid-send)."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Confirmation).where(
                    Confirmation.desk_id == self.desk, Confirmation.status == EXECUTING
                )
            )
            return [_snap(r) for r in rows]

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
            return [_snap(r) for r in rows]

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
                values = _journal_values(
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
            return [_jsnap(r) for r in rows]

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
            return [_jsnap(r) for r in rows]

    async def journal(self, user_id: int | None = None, limit: int = 50) -> list[JournalRecord]:
        """The newest journal rows (of one user, or everyone's)."""
        stmt = (
            select(OrderJournalEntry)
            .where(OrderJournalEntry.desk_id == self.desk)
            .order_by(OrderJournalEntry.id.desc())
            .limit(limit)
        )
        if user_id is not None:
            stmt = stmt.where(OrderJournalEntry.user_id == user_id)
        async with self.db.session() as s:
            return [_jsnap(r) for r in await s.scalars(stmt)]

    def _mine(self, token: str) -> tuple[ColumnElement[bool], ...]:
        """The confirmation ``token`` of this desk (a token of another desk is not found)."""
        return (Confirmation.token == token, Confirmation.desk_id == self.desk)


def _row(r: ConfirmationRecord, desk: str) -> Confirmation:
    return Confirmation(
        desk_id=desk,
        token=r.token,
        kind=r.kind,
        user_id=r.user_id,
        chat_id=r.chat_id,
        message_id=r.message_id,
        status=r.status,
        mode=r.mode,
        payload=r.payload,
        result=r.result,
        replaces=r.replaces,
        created_at_ms=r.created_at_ms,
        expires_at_ms=r.expires_at_ms,
        used_at_ms=r.used_at_ms,
    )
