"""The latest public prices, shared through the database (table ``prices``, migration 0017).

The ingest leader (:mod:`bot.processes.ingest`) is the one writer: it keeps the stream's latest
price and funding rate per symbol in memory and upserts the symbols that changed at most once a
second (:class:`bot.processes.prices.PriceWriter`), in one statement — never a row or a NOTIFY
per tick. Any process (web, workers) reads them with :func:`latest_prices`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, String, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, DecimalText
from bot.storage.db import Database


class PriceRow(Base):
    __tablename__ = "prices"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    funding_rate: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class Quote:
    """One symbol's latest price, its funding rate per interval (perps) and when it was written."""

    symbol: str
    price: Decimal
    funding_rate: Decimal | None
    updated_ms: int


async def write_prices(db: Database, quotes: Mapping[str, Quote]) -> None:
    """Upsert ``quotes`` in one statement (a funding rate not known this time is kept)."""
    if not quotes:
        return
    rows = [
        {
            "symbol": q.symbol,
            "price": q.price,
            "funding_rate": q.funding_rate,
            "updated_ms": q.updated_ms,
        }
        for q in quotes.values()
    ]
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(PriceRow).values(rows)
    keep = PriceRow.__table__.c.funding_rate
    stmt = stmt.on_conflict_do_update(
        index_elements=[PriceRow.symbol],
        set_={
            "price": stmt.excluded.price,
            "updated_ms": stmt.excluded.updated_ms,
            "funding_rate": func.coalesce(stmt.excluded.funding_rate, keep),
        },
    )
    async with db.session() as s, s.begin():
        await s.execute(stmt)


async def latest_quotes(db: Database) -> dict[str, Quote]:
    """Every symbol's latest quote as the ingest leader last wrote it."""
    async with db.session() as s:
        rows = await s.scalars(select(PriceRow))
        return {r.symbol: Quote(r.symbol, r.price, r.funding_rate, r.updated_ms) for r in rows}


async def latest_prices(db: Database) -> dict[str, Decimal]:
    """Every symbol's latest price (``/health``, the dashboard, workers): at most ~1 s old while
    an ingest leader streams; see :func:`latest_quotes` for when each was written."""
    return {s: q.price for s, q in (await latest_quotes(db)).items()}
