"""What the chat was told, so the same event is not told twice and old buttons are tidied.

Two questions about events from the exchange's private order stream are answered here:

* *Did the user just see this?* A fill of an order sent by a ✅ tap (a confirmation's journal row)
  was shown in the edited preview; a cancel the bot itself sent (``/cancel``, a 🗑 button, a
  replaced stop) was answered in the chat. :meth:`EventStore.confirmed_order` and
  :meth:`EventStore.cancel_requested` read the order journal for that.
* *Which messages show buttons about this position or order?* Each inline button the bot sends
  under ``/positions`` and ``/orders`` is a :class:`MessageButton` row naming what it acts on
  (``position``/``order`` and the symbol or order id). When that thing closes, fills, is
  cancelled or fires, the rows are marked ``gone`` with what happened, the messages' keyboards
  are rebuilt from the rows still live, and a late tap is answered with that fate.
* *What did that message say?* ``/positions`` keeps its text (:class:`AppMeta`, by desk, chat
  and message) so that, when a position it shows closes, the message's text is edited too: the
  closed position is no longer shown as open (:attr:`Keyboard.text`, :attr:`Keyboard.closed`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.base import Base, desk_column
from bot.storage.core import AppMeta
from bot.storage.db import Database
from bot.storage.trading_rows import (
    KIND_CANCEL,
    KIND_ORDER,
    SENDING,
    Confirmation,
    JournalRecord,
    OrderJournalEntry,
    journal_snapshot,
)

POSITION = "position"
ORDER = "order"


class MessageButton(Base):
    """One inline button of a message the bot sent, and what it acts on."""

    __tablename__ = "message_buttons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    desk_id: Mapped[str] = desk_column()
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    row: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(String(128))
    #: ``position`` (key: symbol) or ``order`` (key: order id); empty: acts on nothing that ends.
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    #: What happened to the thing the button acts on ("closed", "filled", …); NULL while live.
    gone: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class Button:
    """A button as rendered: its row, label, callback data, and what it acts on."""

    row: int
    label: str
    data: str
    kind: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class Keyboard:
    """A message whose keyboard must be rebuilt: the buttons still live, row by row."""

    chat_id: int
    message_id: int
    rows: tuple[tuple[tuple[str, str], ...], ...]
    #: The message's text as sent, when it was kept (``/positions``), and the positions it
    #: shows that are over, with what happened to each (:func:`stop_fate` or ``"closed"``).
    text: str | None = None
    closed: tuple[tuple[str, str], ...] = ()


def stop_fate(name: str, price: str) -> str:
    """What a position closed by its stop is marked with: ``stop-loss@58000.5``."""
    return f"{name}@{price}"


def _text_key(desk: str, chat_id: int, message_id: int) -> str:
    return f"shown:{desk}:{chat_id}:{message_id}"


class EventStore:
    """One desk's chat events: its journal's questions and its messages' buttons; rows of
    another desk are never read or changed."""

    def __init__(self, db: Database, *, desk: str = OPERATOR_DESK) -> None:
        self.db = db
        self.desk = desk

    # ------------------------------------------------------------------ journal questions

    async def confirmed_order(self, client_id: int) -> JournalRecord | None:
        """The journal row of the order with ``client_id`` when a ✅ tap sent it."""
        async with self.db.session() as s:
            row = await s.scalar(
                select(OrderJournalEntry)
                .join(Confirmation, Confirmation.token == OrderJournalEntry.token)
                .where(
                    OrderJournalEntry.desk_id == self.desk,
                    Confirmation.desk_id == self.desk,
                    OrderJournalEntry.client_id == client_id,
                    OrderJournalEntry.kind == KIND_ORDER,
                )
                .limit(1)
            )
            return journal_snapshot(row) if row is not None else None

    async def tapped_since(self, symbol: str, since_ms: int) -> bool:
        """Whether a ✅ tap sent an order that trades (not a stop) on ``symbol`` since
        ``since_ms`` (its journal row is written before the order goes out, so it is there
        before any event the order causes)."""
        async with self.db.session() as s:
            found = await s.scalar(
                select(OrderJournalEntry.id)
                .join(Confirmation, Confirmation.token == OrderJournalEntry.token)
                .where(
                    OrderJournalEntry.desk_id == self.desk,
                    Confirmation.desk_id == self.desk,
                    OrderJournalEntry.symbol == symbol,
                    OrderJournalEntry.kind == KIND_ORDER,
                    OrderJournalEntry.trigger_price.is_(None),
                    OrderJournalEntry.created_at_ms >= since_ms,
                )
                .limit(1)
            )
            return found is not None

    async def cancel_requested(self, order_id: str, symbol: str, since_ms: int) -> bool:
        """Whether the bot itself asked to cancel ``order_id`` (by id, or with a cancel-all of
        its market or of every market still in flight or listing it) since ``since_ms``."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(OrderJournalEntry).where(
                    OrderJournalEntry.desk_id == self.desk,
                    OrderJournalEntry.kind == KIND_CANCEL,
                    OrderJournalEntry.created_at_ms >= since_ms,
                    OrderJournalEntry.symbol.in_((symbol, "*")),
                )
            )
            for r in rows:
                if r.target == order_id:
                    return True
                if r.target is None:
                    if r.status == SENDING:
                        return True
                    done = json.loads(r.result or "{}").get("cancelled", [])
                    if order_id in done:
                        return True
        return False

    # ------------------------------------------------------------------ buttons

    async def record(
        self,
        chat_id: int,
        message_id: int,
        buttons: Sequence[Button],
        now_ms: int,
        text: str | None = None,
    ) -> None:
        """Remember the buttons of a message just sent (and its ``text``, to edit it when a
        position it shows closes)."""
        async with self.db.session() as s, s.begin():
            if text is not None:
                await s.merge(AppMeta(key=_text_key(self.desk, chat_id, message_id), value=text))
            for b in buttons:
                s.add(
                    MessageButton(
                        desk_id=self.desk,
                        chat_id=chat_id,
                        message_id=message_id,
                        row=b.row,
                        label=b.label,
                        data=b.data,
                        kind=b.kind,
                        key=b.key,
                        gone=None,
                        created_at_ms=now_ms,
                    )
                )

    async def end(self, kind: str, key: str, what: str) -> list[Keyboard]:
        """``key`` is over (``what`` happened): mark its buttons gone and return every message
        that showed one, with the buttons it keeps."""
        async with self.db.session() as s, s.begin():
            hit = list(
                await s.scalars(
                    select(MessageButton).where(
                        MessageButton.desk_id == self.desk,
                        MessageButton.kind == kind,
                        MessageButton.key == key,
                        MessageButton.gone.is_(None),
                    )
                )
            )
            if not hit:
                return []
            await s.execute(
                update(MessageButton)
                .where(MessageButton.id.in_([b.id for b in hit]))
                .values(gone=what)
            )
            messages = sorted({(b.chat_id, b.message_id) for b in hit})
            out: list[Keyboard] = []
            for chat_id, message_id in messages:
                out.append(await self._keyboard(s, chat_id, message_id))
            return out

    async def label(self, kind: str, key: str) -> str | None:
        """The label of a button about ``key`` (live or gone), e.g. ``🗑 SL 58,000.0``."""
        async with self.db.session() as s:
            return await s.scalar(
                select(MessageButton.label)
                .where(
                    MessageButton.desk_id == self.desk,
                    MessageButton.kind == kind,
                    MessageButton.key == key,
                )
                .limit(1)
            )

    async def live(self, kind: str, key: str) -> bool:
        """Whether some message still shows a button about ``key``."""
        async with self.db.session() as s:
            found = await s.scalar(
                select(MessageButton.id)
                .where(
                    MessageButton.desk_id == self.desk,
                    MessageButton.kind == kind,
                    MessageButton.key == key,
                    MessageButton.gone.is_(None),
                )
                .limit(1)
            )
            return found is not None

    async def fate(self, kind: str, key: str) -> str | None:
        """What happened to ``key``, when a button about it was marked gone."""
        async with self.db.session() as s:
            return await s.scalar(
                select(MessageButton.gone)
                .where(
                    MessageButton.desk_id == self.desk,
                    MessageButton.kind == kind,
                    MessageButton.key == key,
                    MessageButton.gone.is_not(None),
                )
                .order_by(MessageButton.id.desc())
                .limit(1)
            )

    async def drop_button(self, chat_id: int, message_id: int, data: str) -> Keyboard:
        """A late tap on ``data``: that button goes; the message keeps the others."""
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(MessageButton)
                .where(
                    MessageButton.desk_id == self.desk,
                    MessageButton.chat_id == chat_id,
                    MessageButton.message_id == message_id,
                    MessageButton.data == data,
                    MessageButton.gone.is_(None),
                )
                .values(gone="")
            )
            return await self._keyboard(s, chat_id, message_id)

    async def forget_before(self, before_ms: int) -> None:
        """Drop the records of old messages (their buttons are long out of sight)."""
        old = (MessageButton.desk_id == self.desk, MessageButton.created_at_ms < before_ms)
        async with self.db.session() as s, s.begin():
            shown = await s.execute(
                select(MessageButton.chat_id, MessageButton.message_id).where(*old).distinct()
            )
            keys = [_text_key(self.desk, c, m) for c, m in shown]
            if keys:
                await s.execute(delete(AppMeta).where(AppMeta.key.in_(keys)))
            await s.execute(delete(MessageButton).where(*old))

    async def _keyboard(self, s: AsyncSession, chat_id: int, message_id: int) -> Keyboard:
        live = await s.scalars(
            select(MessageButton)
            .where(
                MessageButton.desk_id == self.desk,
                MessageButton.chat_id == chat_id,
                MessageButton.message_id == message_id,
                MessageButton.gone.is_(None),
            )
            .order_by(MessageButton.row, MessageButton.id)
        )
        rows: dict[int, list[tuple[str, str]]] = {}
        for b in live:
            rows.setdefault(b.row, []).append((b.label, b.data))
        text = await s.get(AppMeta, _text_key(self.desk, chat_id, message_id))
        closed = await s.execute(
            select(MessageButton.key, MessageButton.gone)
            .where(
                MessageButton.desk_id == self.desk,
                MessageButton.chat_id == chat_id,
                MessageButton.message_id == message_id,
                MessageButton.kind == POSITION,
                MessageButton.gone.is_not(None),
                MessageButton.gone != "",
            )
            .order_by(MessageButton.id)
        )
        return Keyboard(
            chat_id,
            message_id,
            tuple(tuple(r) for r in rows.values()),
            text.value if text is not None else None,
            tuple((key, str(gone)) for key, gone in closed),
        )
