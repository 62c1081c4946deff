"""Desks storage: the desks, who is on them, one-time invites, and each user's active desk.

The registry (:mod:`bot.desks.registry`) keeps all of it in memory and writes here first. An
invite row keeps the SHA-256 of its code, never the code; it is spent by one conditional
``UPDATE … WHERE used_by IS NULL AND expires_at_ms > now`` whose rowcount decides who won, so
two users racing with one link cannot both get in. The operator desk has a row too (written by
the migration), so marking it revoked works like any other desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, Index, String, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.desks.model import OPERATOR, Desk, InviteReason
from bot.services.access import Role
from bot.storage.base import Base
from bot.storage.db import Database


class DeskRow(Base):
    __tablename__ = "desks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_venue: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DeskMemberRow(Base):
    __tablename__ = "desk_members"
    __table_args__ = (Index("ix_desk_members_user", "user_id"),)

    desk_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at_ms: Mapped[int] = mapped_column(BigInteger)


class DeskInviteRow(Base):
    __tablename__ = "desk_invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    used_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DeskChoiceRow(Base):
    __tablename__ = "desk_choice"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True, slots=True)
class Member:
    desk_id: str
    user_id: int
    role: Role
    joined_at_ms: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the registry caches, read in one go."""

    desks: list[Desk]
    members: list[Member]
    choices: dict[int, str]


@dataclass(frozen=True, slots=True)
class PendingInvite:
    """An invite row as read before redeeming it (the code itself is not stored)."""

    desk_id: str
    role: Role
    expires_at_ms: int
    used: bool


def _desk(row: DeskRow) -> Desk:
    return Desk(
        id=row.id,
        name=row.name,
        created_by=row.created_by,
        created_at_ms=row.created_at_ms,
        revoked_at_ms=row.revoked_at_ms,
        revoked_venue=row.revoked_venue,
    )


#: The channel other processes LISTEN on to read the desks again (PostgreSQL only).
CHANNEL = "desks_changed"


async def changed(s: AsyncSession) -> None:
    """Tell every other process, when this transaction commits, that desks or members changed
    (PostgreSQL's NOTIFY is delivered on commit; a rolled-back change tells nobody)."""
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(text(f"NOTIFY {CHANNEL}"))


async def _rowcount(s: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await s.execute(stmt))
    return int(result.rowcount)


class DeskStore:
    """Queries on the four desk tables; each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def snapshot(self) -> Snapshot:
        async with self.db.session() as s:
            desks = [_desk(r) for r in (await s.scalars(select(DeskRow))).all()]
            members = [
                Member(r.desk_id, r.user_id, cast(Role, r.role), r.joined_at_ms)
                for r in (await s.scalars(select(DeskMemberRow))).all()
            ]
            choices = {r.user_id: r.desk_id for r in (await s.scalars(select(DeskChoiceRow)))}
        return Snapshot(desks, members, choices)

    async def create(
        self, desk: Desk, owner_id: int, *, max_desks: int, now_ms: int
    ) -> Member | None:
        """Insert the desk, its owner, and make it the owner's active desk; None when
        ``max_desks`` desks besides the operator's exist already."""
        async with self.db.session() as s, s.begin():
            await changed(s)
            # A write before the count serializes concurrent creates: SQLite takes its write
            # lock, PostgreSQL locks the operator's row; so MAX_DESKS holds under a race.
            await s.execute(update(DeskRow).where(DeskRow.id == OPERATOR).values(name=DeskRow.name))
            count = await s.scalar(
                select(func.count()).select_from(DeskRow).where(DeskRow.id != OPERATOR)
            )
            if int(count or 0) >= max_desks:
                return None
            s.add(
                DeskRow(
                    id=desk.id,
                    name=desk.name,
                    created_by=desk.created_by,
                    created_at_ms=desk.created_at_ms,
                )
            )
            s.add(
                DeskMemberRow(desk_id=desk.id, user_id=owner_id, role="owner", joined_at_ms=now_ms)
            )
            await _set_choice(s, owner_id, desk.id)
        return Member(desk.id, owner_id, "owner", now_ms)

    async def add_invite(
        self,
        code_hash: str,
        desk_id: str,
        role: Role,
        *,
        created_by: int,
        now_ms: int,
        expires_at_ms: int,
    ) -> None:
        async with self.db.session() as s, s.begin():
            await changed(s)
            # Spent and long-expired invites are of no use to anyone: drop them as new ones come.
            await s.execute(
                delete(DeskInviteRow).where(DeskInviteRow.expires_at_ms < now_ms - 86_400_000)
            )
            s.add(
                DeskInviteRow(
                    code_hash=code_hash,
                    desk_id=desk_id,
                    role=role,
                    created_by=created_by,
                    created_at_ms=now_ms,
                    expires_at_ms=expires_at_ms,
                )
            )

    async def invite(self, code_hash: str) -> PendingInvite | None:
        async with self.db.session() as s:
            row = await s.get(DeskInviteRow, code_hash)
            if row is None:
                return None
            return PendingInvite(
                row.desk_id, cast(Role, row.role), row.expires_at_ms, row.used_by is not None
            )

    async def redeem(self, code_hash: str, user_id: int, *, now_ms: int) -> Member | InviteReason:
        """Spend the invite and add the user with its role (and make it their active desk), or
        say why not. Exactly one of several concurrent calls with one code wins."""
        async with self.db.session() as s, s.begin():
            await changed(s)
            spent = await _rowcount(
                s,
                update(DeskInviteRow)
                .where(
                    DeskInviteRow.code_hash == code_hash,
                    DeskInviteRow.used_by.is_(None),
                    DeskInviteRow.expires_at_ms > now_ms,
                )
                .values(used_by=user_id, used_at_ms=now_ms),
            )
            row = await s.get(DeskInviteRow, code_hash)
            if row is None:
                return "unknown"
            if spent != 1:
                return "used" if row.used_by is not None else "expired"
            desk_id, role = row.desk_id, cast(Role, row.role)
            existing = await s.get(DeskMemberRow, (desk_id, user_id))
            if existing is not None:  # joined another way meanwhile: the role they have stays
                return Member(desk_id, user_id, cast(Role, existing.role), existing.joined_at_ms)
            s.add(DeskMemberRow(desk_id=desk_id, user_id=user_id, role=role, joined_at_ms=now_ms))
            await _set_choice(s, user_id, desk_id)
        return Member(desk_id, user_id, role, now_ms)

    async def set_choice(self, user_id: int, desk_id: str) -> None:
        async with self.db.session() as s, s.begin():
            await changed(s)
            await _set_choice(s, user_id, desk_id)

    async def remove_member(self, desk_id: str, user_id: int) -> bool:
        """Take the user off the desk (and drop their choice of it); False when they were not
        on it."""
        async with self.db.session() as s, s.begin():
            await changed(s)
            gone = await _rowcount(
                s,
                delete(DeskMemberRow).where(
                    DeskMemberRow.desk_id == desk_id, DeskMemberRow.user_id == user_id
                ),
            )
            await s.execute(
                delete(DeskChoiceRow).where(
                    DeskChoiceRow.user_id == user_id, DeskChoiceRow.desk_id == desk_id
                )
            )
        return gone == 1

    async def mark_revoked(self, desk_id: str, venue: str, *, now_ms: int) -> bool:
        """True only for the call that marked it (the owner is told once)."""
        async with self.db.session() as s, s.begin():
            await changed(s)
            return (
                await _rowcount(
                    s,
                    update(DeskRow)
                    .where(DeskRow.id == desk_id, DeskRow.revoked_at_ms.is_(None))
                    .values(revoked_at_ms=now_ms, revoked_venue=venue[:32]),
                )
                == 1
            )

    async def clear_revoked(self, desk_id: str) -> bool:
        async with self.db.session() as s, s.begin():
            await changed(s)
            return (
                await _rowcount(
                    s,
                    update(DeskRow)
                    .where(DeskRow.id == desk_id, DeskRow.revoked_at_ms.is_not(None))
                    .values(revoked_at_ms=None, revoked_venue=None),
                )
                == 1
            )

    async def desk(self, desk_id: str) -> Desk | None:
        async with self.db.session() as s:
            row = await s.get(DeskRow, desk_id)
            return None if row is None else _desk(row)


async def _set_choice(s: AsyncSession, user_id: int, desk_id: str) -> None:
    """Insert or replace the user's choice in one statement (two taps at once do not clash)."""
    values = {"user_id": user_id, "desk_id": desk_id}
    stmt: Any
    if s.get_bind().dialect.name == "postgresql":
        stmt = pg_insert(DeskChoiceRow).values(values)
    else:
        stmt = sqlite_insert(DeskChoiceRow).values(values)
    await s.execute(
        stmt.on_conflict_do_update(index_elements=["user_id"], set_={"desk_id": desk_id})
    )
