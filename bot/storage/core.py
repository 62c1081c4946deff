"""Core tables: the single-instance lock and a small key/value store."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base


class InstanceLock(Base):
    """One row per bot token: who runs it and when it last said so."""

    __tablename__ = "instance_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    heartbeat_ms: Mapped[int] = mapped_column(BigInteger)


class AppMeta(Base):
    """Small persistent values (the paper account's keypair, schema notes, ...)."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
