"""The outbox as tables (migration ``0016_outbox``), for a bot on several processes.

``outbox_messages``: every unsolicited message is a row until a sender has delivered it
(``sent_ms`` set). ``outbox_chats``: per chat, the earliest moment the next message may go
(``next_ms``: Telegram's per-chat pace, or a ``retry_after``); chat ``0`` is the whole bot, paused
when Telegram asks everything to wait. The row is also what a sender locks (``FOR UPDATE SKIP
LOCKED``) while a message to that chat is on its way, so one message is in flight per chat across
all processes. ``outbox_rate``: the bot-wide count of messages sent, keyed by the millisecond
Telegram answered them (``second`` > 0), and of those still on their way, keyed by minus the
millisecond they left (``second`` < 0). :mod:`bot.services.notices.senders` reads and writes
them; :mod:`bot.services.notices.table` inserts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base


class OutboxMessage(Base):
    """One note waiting to be sent (or sent: ``sent_ms``, and the ``message_id`` it became)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_messages_dedupe_key"),
        Index("ix_outbox_messages_chat_id_id", "chat_id", "id"),
        Index("ix_outbox_messages_sent_ms", "sent_ms"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    desk_id: Mapped[str | None] = mapped_column(String(40))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    markup: Mapped[str | None] = mapped_column(Text)  # the keyboard as JSON
    critical: Mapped[bool] = mapped_column(Boolean, server_default=false())
    edit_message_id: Mapped[int | None] = mapped_column(BigInteger)
    only_markup: Mapped[bool] = mapped_column(Boolean, server_default=false())
    hook: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    not_before_ms: Mapped[int] = mapped_column(BigInteger)
    sent_ms: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")


class OutboxChat(Base):
    """When the next message to a chat may go (chat 0: to anyone)."""

    __tablename__ = "outbox_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    next_ms: Mapped[int] = mapped_column(BigInteger)


class OutboxRate(Base):
    """Messages counted by the bot-wide window: answered at ``second`` ms (> 0), or on their
    way since ``-second`` ms (< 0)."""

    __tablename__ = "outbox_rate"

    second: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent: Mapped[int] = mapped_column(Integer)
