"""The declarative base every model shares, a Decimal column that never becomes a float, and
the desk column of every per-account table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.keyring.ring import OPERATOR_DESK


class DecimalText(TypeDecorator[Decimal]):
    """Money stored as its exact decimal text (SQLite has no true decimal type)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Base(DeclarativeBase):
    """Shared metadata for all domain models."""


def desk_column(*, primary_key: bool = False) -> Mapped[str]:
    """The desk (trading account) a row belongs to; rows from before desks are the operator's.

    On a table whose natural key names an account's thing (a symbol, a mark), the desk is the
    first part of the key; elsewhere every query of a per-desk store filters on it.
    """
    return mapped_column(String(40), primary_key=primary_key, server_default=OPERATOR_DESK)
