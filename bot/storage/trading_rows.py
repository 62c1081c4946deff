"""The rows of confirmations and of the order journal, and their detached snapshots.

:class:`~bot.storage.trading.TradingStore` reads and writes them; the statuses and the status
graph are described there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, DecimalText, desk_column

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


def snapshot(row: Confirmation) -> ConfirmationRecord:
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


def journal_snapshot(row: OrderJournalEntry) -> JournalRecord:
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


def journal_values(
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


def confirmation_row(r: ConfirmationRecord, desk: str) -> Confirmation:
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
