"""Desks' exchange credentials, sealed (one row per desk and venue; see
:mod:`bot.keyring.desk_keys`). Only the sealed value and a hint of at most four characters of
the public key or address are stored."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base


class DeskSecret(Base):
    """A desk's credentials for one venue: ``sealed`` is the JSON of the form's fields sealed
    under ``Binding(purpose="credentials", venue=venue, desk=desk_id)``."""

    __tablename__ = "desk_secrets"

    desk_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    venue: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(32))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
