"""What several processes share to divide the work (migration ``0017_coordination``): the running
processes (a row each, its heartbeat) and each desk's private-stream lease.

The rules live in :mod:`bot.processes.coord`; these are the rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base


class ProcessRow(Base):
    """One running process of the multi-process set: its role, where it runs, its last beat."""

    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_ms: Mapped[int] = mapped_column(BigInteger)
    beat_ms: Mapped[int] = mapped_column(BigInteger)


class StreamLeaseRow(Base):
    """Who holds a desk's private account stream, until when. ``holder`` is ``None`` for a lease
    released on purpose; ``generation`` counts the hand-overs (a fencing number)."""

    __tablename__ = "stream_leases"

    desk_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), index=True)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    taken_ms: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(Integer, server_default="0")
