"""Alerts storage: the alerts users set, their notification settings, and watcher marks.

An alert row is the durable truth; the in-memory index (:mod:`bot.alerts.index`) is rebuilt from
the armed rows at start-up. ``armed`` flips to false when an alert fires and back to true when
the price has gone back past the threshold by the hysteresis band, so a restart neither loses an
alert nor fires one twice for the same crossing.

On PostgreSQL (several processes) every change a user makes to an alert — added, removed,
muted, re-armed — sends one ``NOTIFY alerts_changed`` with the alert ids (at commit, in the
same transaction), so the ingest leader's index follows (:mod:`bot.processes.ingest`); firing
sends none: only the evaluator fires, and it knows.

Watch marks are small "already done" records (``liq:<user>:<symbol>`` → last warning time,
``fund:<user>:<symbol>:<funding time>`` → notice sent) that keep watchers from repeating
themselves across restarts. They are written with upserts (``INSERT … ON CONFLICT``), so two
processes writing one mark at once (the watch jobs of two workers, a retried job) never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Insert,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.base import Base, DecimalText, desk_column
from bot.storage.db import Database


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[Decimal] = mapped_column(DecimalText)
    window_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    armed: Mapped[bool] = mapped_column(Boolean)
    fired_count: Mapped[int] = mapped_column(Integer)
    last_fired_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    muted_until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class NotifyRow(Base):
    __tablename__ = "notify_settings"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    funding: Mapped[bool] = mapped_column(Boolean)
    positions: Mapped[bool] = mapped_column(Boolean)
    fills: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    digest: Mapped[bool] = mapped_column(Boolean)
    quiet_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    strategy: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class WatchMark(Base):
    __tablename__ = "watch_marks"

    desk_id: Mapped[str] = desk_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)


#: The channel of :func:`notify_changed`; the payload is a comma-separated list of alert ids.
CHANNEL = "alerts_changed"


#: Ids per notification: a payload stays well under PostgreSQL's 8,000 bytes.
IDS_PER_NOTIFY = 500


async def notify_changed(s: AsyncSession, ids: list[int]) -> None:
    """``NOTIFY alerts_changed`` for a write of ``ids`` (PostgreSQL; delivered at commit): one
    per write, one per :data:`IDS_PER_NOTIFY` ids for a batch."""
    if not ids or s.get_bind().dialect.name != "postgresql":
        return
    for i in range(0, len(ids), IDS_PER_NOTIFY):
        payload = ",".join(str(n) for n in ids[i : i + IDS_PER_NOTIFY])
        await s.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})


@dataclass(frozen=True, slots=True)
class Alert:
    """A detached alert. ``kind``: price | change | funding | funding_apr; ``op``: > or <."""

    id: int
    user_id: int
    chat_id: int
    symbol: str
    kind: str
    op: str
    threshold: Decimal
    window_seconds: int | None
    armed: bool
    fired_count: int
    last_fired_ms: int | None
    muted_until_ms: int | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """One user's notification choices.

    ``fills`` and ``strategy`` (notices about the shared account's trading) are ``None`` until
    the user chooses: then the role decides (see :func:`bot.services.access.trade_notices`).
    """

    user_id: int
    chat_id: int
    funding: bool = True
    positions: bool = True
    fills: bool | None = None
    digest: bool = False
    quiet_start: int | None = None
    quiet_end: int | None = None
    strategy: bool | None = None

    def quiet_at(self, hour: int) -> bool:
        """Whether ``hour`` (UTC, 0-23) falls in the quiet hours (which may wrap midnight)."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= hour < end
        return hour >= start or hour < end


def _alert(r: AlertRow) -> Alert:
    return Alert(
        id=r.id,
        user_id=r.user_id,
        chat_id=r.chat_id,
        symbol=r.symbol,
        kind=r.kind,
        op=r.op,
        threshold=r.threshold,
        window_seconds=r.window_seconds,
        armed=r.armed,
        fired_count=r.fired_count,
        last_fired_ms=r.last_fired_ms,
        muted_until_ms=r.muted_until_ms,
        created_at_ms=r.created_at_ms,
    )


def _notify(r: NotifyRow) -> NotifySettings:
    return NotifySettings(
        user_id=r.user_id,
        chat_id=r.chat_id,
        funding=r.funding,
        positions=r.positions,
        fills=r.fills,
        digest=r.digest,
        quiet_start=r.quiet_start,
        quiet_end=r.quiet_end,
        strategy=r.strategy,
    )


class AlertStore:
    """Every read and write of alerts, settings and marks.

    Alerts and notification settings belong to a user and are shared by every desk; watch
    marks remember notices about one desk's positions, so they are ``desk``'s only (an
    ``AlertStore`` for another desk sees none of them).
    """

    def __init__(self, db: Database, *, desk: str = OPERATOR_DESK) -> None:
        self.db = db
        self.desk = desk
        #: Users' notification settings as last read or written here: every watcher round of
        #: every desk asks for them, and they change only through :meth:`save_settings`.
        self._notify: dict[int, NotifySettings | None] = {}

    def for_desk(self, desk: str) -> AlertStore:
        """This store's view of ``desk``'s watch marks, sharing its settings cache (one process
        writes settings through any of them)."""
        view = AlertStore(self.db, desk=desk)
        view._notify = self._notify
        return view

    async def add(
        self,
        *,
        user_id: int,
        chat_id: int,
        symbol: str,
        kind: str,
        op: str,
        threshold: Decimal,
        window_seconds: int | None,
        now_ms: int,
    ) -> Alert:
        row = AlertRow(
            user_id=user_id,
            chat_id=chat_id,
            symbol=symbol,
            kind=kind,
            op=op,
            threshold=threshold,
            window_seconds=window_seconds,
            armed=True,
            fired_count=0,
            created_at_ms=now_ms,
        )
        async with self.db.session() as s, s.begin():
            s.add(row)
            await s.flush()
            await notify_changed(s, [row.id])
            return _alert(row)

    async def get(self, alert_id: int) -> Alert | None:
        async with self.db.session() as s:
            row = await s.get(AlertRow, alert_id)
            return _alert(row) if row else None

    async def get_many(self, alert_ids: list[int]) -> list[Alert]:
        """The alerts among ``alert_ids`` that still exist."""
        if not alert_ids:
            return []
        async with self.db.session() as s:
            rows = await s.scalars(select(AlertRow).where(AlertRow.id.in_(alert_ids)))
            return [_alert(r) for r in rows]

    async def armed_among(self, alert_ids: list[int]) -> list[Alert]:
        """The alerts among ``alert_ids`` the database still holds armed, as stored now."""
        if not alert_ids:
            return []
        async with self.db.session() as s:
            rows = await s.scalars(
                select(AlertRow).where(AlertRow.id.in_(alert_ids), AlertRow.armed.is_(True))
            )
            return [_alert(r) for r in rows]

    async def for_user(self, user_id: int) -> list[Alert]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(AlertRow).where(AlertRow.user_id == user_id).order_by(AlertRow.id)
            )
            return [_alert(r) for r in rows]

    async def count_for(self, user_id: int) -> int:
        async with self.db.session() as s:
            n = await s.scalar(
                select(func.count()).select_from(AlertRow).where(AlertRow.user_id == user_id)
            )
            return int(n or 0)

    async def all(self) -> list[Alert]:
        """Every user's alerts (the evaluator's index), read as plain rows: no ORM objects for
        tens of thousands of alerts."""
        columns = AlertRow.__table__.c
        async with self.db.session() as s:
            rows = await s.execute(select(*columns).order_by(columns.id))
            return [Alert(**r._mapping) for r in rows]

    async def delete(self, alert_id: int, user_id: int) -> bool:
        async with self.db.session() as s, s.begin():
            res = await s.execute(
                delete(AlertRow).where(AlertRow.id == alert_id, AlertRow.user_id == user_id)
            )
            done = bool(getattr(res, "rowcount", 0))
            if done:
                await notify_changed(s, [alert_id])
            return done

    async def clear(self, user_id: int) -> list[int]:
        async with self.db.session() as s, s.begin():
            ids = list(await s.scalars(select(AlertRow.id).where(AlertRow.user_id == user_id)))
            await s.execute(delete(AlertRow).where(AlertRow.user_id == user_id))
            await notify_changed(s, ids)
            return ids

    async def fired(self, alert_id: int, now_ms: int) -> bool:
        """Disarm after a crossing; false when it was not armed (somebody else fired it)."""
        async with self.db.session() as s, s.begin():
            res = await s.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.armed.is_(True))
                .values(armed=False, fired_count=AlertRow.fired_count + 1, last_fired_ms=now_ms)
            )
            return bool(getattr(res, "rowcount", 0))

    async def fired_many(self, alert_ids: list[int], now_ms: int) -> set[int]:
        """:meth:`fired` for a batch in one transaction; returns the ids that were armed."""
        if not alert_ids:
            return set()
        async with self.db.session() as s, s.begin():
            armed = set(
                await s.scalars(
                    select(AlertRow.id).where(AlertRow.id.in_(alert_ids), AlertRow.armed.is_(True))
                )
            )
            if armed:
                await s.execute(
                    update(AlertRow)
                    .where(AlertRow.id.in_(armed), AlertRow.armed.is_(True))
                    .values(armed=False, fired_count=AlertRow.fired_count + 1, last_fired_ms=now_ms)
                )
            return armed

    async def rearm(self, alert_id: int) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(armed=True))
            await notify_changed(s, [alert_id])

    async def rearm_many(self, alert_ids: list[int]) -> None:
        """:meth:`rearm` for a batch in one transaction."""
        if not alert_ids:
            return
        async with self.db.session() as s, s.begin():
            await s.execute(update(AlertRow).where(AlertRow.id.in_(alert_ids)).values(armed=True))
            await notify_changed(s, alert_ids)

    async def mute(self, alert_id: int, user_id: int, until_ms: int) -> bool:
        async with self.db.session() as s, s.begin():
            res = await s.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.user_id == user_id)
                .values(muted_until_ms=until_ms)
            )
            done = bool(getattr(res, "rowcount", 0))
            if done:
                await notify_changed(s, [alert_id])
            return done

    # ------------------------------------------------------------------ notification settings

    async def settings(self, user_id: int, chat_id: int | None = None) -> NotifySettings:
        if user_id in self._notify:
            known = self._notify[user_id]
        else:
            async with self.db.session() as s:
                row = await s.get(NotifyRow, user_id)
                known = _notify(row) if row is not None else None
            self._notify[user_id] = known
        if known is not None:
            return known
        return NotifySettings(user_id=user_id, chat_id=chat_id if chat_id is not None else user_id)

    async def save_settings(self, st: NotifySettings) -> None:
        async with self.db.session() as s, s.begin():
            row = await s.get(NotifyRow, st.user_id)
            if row is None:
                row = NotifyRow(user_id=st.user_id)
                s.add(row)
            row.chat_id = st.chat_id
            row.funding, row.positions, row.fills = st.funding, st.positions, st.fills
            row.digest, row.quiet_start, row.quiet_end = st.digest, st.quiet_start, st.quiet_end
            row.strategy = st.strategy
        self._notify[st.user_id] = st

    # ------------------------------------------------------------------ marks

    async def mark(self, key: str) -> WatchMarkView | None:
        async with self.db.session() as s:
            row = await s.get(WatchMark, (self.desk, key))
            return WatchMarkView(row.at_ms, row.value) if row else None

    async def set_mark(self, key: str, at_ms: int, value: str | None = None) -> None:
        """Set ``key`` to ``at_ms``/``value`` (one upsert: two processes writing the same mark
        at once — the watch jobs of two workers, a retried job — both succeed, the last wins)."""
        values = {"desk_id": self.desk, "key": key, "at_ms": at_ms, "value": value}
        if self.db.engine.dialect.name == "postgresql":
            pg = postgresql.insert(WatchMark).values(**values)
            stmt: Insert = pg.on_conflict_do_update(
                index_elements=[WatchMark.desk_id, WatchMark.key],
                set_={"at_ms": pg.excluded.at_ms, "value": pg.excluded.value},
            )
        else:
            lite = sqlite.insert(WatchMark).values(**values)
            stmt = lite.on_conflict_do_update(
                index_elements=[WatchMark.desk_id, WatchMark.key],
                set_={"at_ms": lite.excluded.at_ms, "value": lite.excluded.value},
            )
        async with self.db.session() as s, s.begin():
            await s.execute(stmt)

    async def claim_mark(self, key: str, at_ms: int) -> bool:
        """Set ``key`` once: true for the first caller only (a notice sent at most once), however
        many processes race for it (``INSERT … ON CONFLICT DO NOTHING RETURNING``: the primary
        key decides)."""
        values = {"desk_id": self.desk, "key": key, "at_ms": at_ms}
        insert: Insert
        if self.db.engine.dialect.name == "postgresql":
            insert = postgresql.insert(WatchMark).values(**values).on_conflict_do_nothing()
        else:
            insert = sqlite.insert(WatchMark).values(**values).on_conflict_do_nothing()
        async with self.db.session() as s, s.begin():
            result = await s.execute(insert.returning(WatchMark.key))
            return result.first() is not None


@dataclass(frozen=True, slots=True)
class WatchMarkView:
    at_ms: int
    value: str | None
