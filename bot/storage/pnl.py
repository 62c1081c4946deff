"""The PnL journal: every fill and funding payment of a desk's account, deduplicated by the
exchange's id, from which the reports compute realised PnL, fees and funding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.base import Base, DecimalText, desk_column
from bot.storage.db import Database


class JournalRow(Base):
    """One fill or funding payment of a desk's account (deduplicated by ``external_id``)."""

    __tablename__ = "pnl_journal"
    __table_args__ = (
        UniqueConstraint("desk_id", "external_id", name="uq_pnl_journal_desk_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    desk_id: Mapped[str] = desk_column()
    external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))  # "fill" | "funding"
    mode: Mapped[str] = mapped_column(String(8))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    fee: Mapped[Decimal] = mapped_column(DecimalText)
    fee_symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    amount: Mapped[Decimal] = mapped_column(DecimalText)  # funding: USDC received (+) / paid (−)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rate: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journal row as a value."""

    external_id: str
    kind: str
    mode: str
    at_ms: int
    symbol: str
    side: str | None
    quantity: Decimal
    price: Decimal | None
    fee: Decimal
    fee_symbol: str | None
    amount: Decimal
    order_id: str | None = None
    rate: Decimal | None = None


class PnlJournal:
    """One desk's PnL journal (another desk's entries, even with the same external id, are
    apart)."""

    def __init__(self, db: Database, *, desk: str = OPERATOR_DESK) -> None:
        self.db = db
        self.desk = desk

    async def add_journal(self, entries: Sequence[JournalEntry]) -> int:
        """Insert entries not seen before; returns how many were new."""
        if not entries:
            return 0
        ids = [e.external_id for e in entries]
        async with self.db.session() as s, s.begin():
            seen = set(
                (
                    await s.execute(
                        select(JournalRow.external_id).where(
                            JournalRow.desk_id == self.desk, JournalRow.external_id.in_(ids)
                        )
                    )
                )
                .scalars()
                .all()
            )
            new = [
                e for e in {e.external_id: e for e in entries}.values() if e.external_id not in seen
            ]
            for e in new:
                s.add(
                    JournalRow(
                        desk_id=self.desk,
                        external_id=e.external_id,
                        kind=e.kind,
                        mode=e.mode,
                        at_ms=e.at_ms,
                        symbol=e.symbol,
                        side=e.side,
                        quantity=e.quantity,
                        price=e.price,
                        fee=e.fee,
                        fee_symbol=e.fee_symbol,
                        amount=e.amount,
                        order_id=e.order_id,
                        rate=e.rate,
                    )
                )
        return len(new)

    async def journal(self, *, mode: str | None = None) -> list[JournalEntry]:
        """Every entry, oldest first (``mode`` filters paper/live)."""
        q = (
            select(JournalRow)
            .where(JournalRow.desk_id == self.desk)
            .order_by(JournalRow.at_ms, JournalRow.id)
        )
        if mode is not None:
            q = q.where(JournalRow.mode == mode)
        async with self.db.session() as s:
            rows = (await s.execute(q)).scalars().all()
        return [
            JournalEntry(
                external_id=r.external_id,
                kind=r.kind,
                mode=r.mode,
                at_ms=r.at_ms,
                symbol=r.symbol,
                side=r.side,
                quantity=r.quantity,
                price=r.price,
                fee=r.fee,
                fee_symbol=r.fee_symbol,
                amount=r.amount,
                order_id=r.order_id,
                rate=r.rate,
            )
            for r in rows
        ]
