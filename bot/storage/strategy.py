"""Strategy storage: settings + mode, positions it owns, exits, approvals, actions (the PnL
journal is :mod:`bot.storage.pnl`).

Money is stored as exact decimal text (:class:`~bot.storage.base.DecimalText`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    Text,
    delete,
    false,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, DecimalText, desk_column
from bot.storage.pnl import JournalEntry, JournalRow, PnlJournal
from bot.strategy.model import Action, Kind, Leg, Portfolio, StrategyConfig, StrategyPosition

MODES = ("off", "approve", "auto")


class StrategySettingsRow(Base):
    __tablename__ = "strategy_settings"

    #: One row per desk (``id`` is always 1).
    desk_id: Mapped[str] = desk_column(primary_key=True)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(String(16))
    config: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: ``/pause``: no new entries; exits, stops and the delta check go on.
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StrategyPositionRow(Base):
    __tablename__ = "strategy_positions"

    desk_id: Mapped[str] = desk_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    perp_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    perp_entry: Mapped[Decimal] = mapped_column(DecimalText)
    spot_symbol: Mapped[str | None] = mapped_column(String(64), nullable=True)
    spot_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    spot_entry: Mapped[Decimal] = mapped_column(DecimalText)
    entry_rate: Mapped[Decimal] = mapped_column(DecimalText)
    opened_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: ``cross``: the hedge venue (``HEDGE_EXCHANGES`` id) holding the second leg.
    hedge_venue: Mapped[str | None] = mapped_column(String(32), nullable=True)


class StrategyExitRow(Base):
    __tablename__ = "strategy_exits"

    desk_id: Mapped[str] = desk_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    exited_at_ms: Mapped[int] = mapped_column(BigInteger)


class StrategyApprovalRow(Base):
    __tablename__ = "strategy_approvals"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    desk_id: Mapped[str] = desk_column()
    symbol: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)


class StrategyActionRow(Base):
    __tablename__ = "strategy_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    desk_id: Mapped[str] = desk_column()
    at_ms: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    strategy: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    order_ids: Mapped[str] = mapped_column(Text)
    perp_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    perp_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    spot_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    spot_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    problems: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class StrategySettings:
    mode: str
    config: StrategyConfig
    user_id: int | None
    chat_id: int | None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One executed strategy action as ``/trades`` lists it."""

    at_ms: int
    mode: str
    symbol: str
    kind: str
    strategy: str
    reason: str
    order_ids: tuple[str, ...]
    perp_quantity: Decimal
    perp_price: Decimal | None
    spot_quantity: Decimal
    spot_price: Decimal | None
    problems: tuple[str, ...]


def action_to_json(action: Action) -> str:
    """An action as JSON text (decimals as strings) for a pending approval."""
    return json.dumps(
        {
            "kind": action.kind,
            "symbol": action.symbol,
            "strategy": action.strategy,
            "reason": action.reason,
            "funding_rate": str(action.funding_rate),
            "notional": str(action.notional),
            "expected_edge": str(action.expected_edge),
            "legs": [
                {
                    "symbol": leg.symbol,
                    "side": leg.side,
                    "quantity": str(leg.quantity),
                    "reduce_only": leg.reduce_only,
                    "expected_price": str(leg.expected_price),
                    "venue": leg.venue,
                }
                for leg in action.legs
            ],
        }
    )


def action_from_json(text: str) -> Action:
    d: dict[str, Any] = json.loads(text)
    return Action(
        kind=d["kind"],
        symbol=d["symbol"],
        strategy=d["strategy"],
        reason=d["reason"],
        funding_rate=Decimal(d["funding_rate"]),
        notional=Decimal(d["notional"]),
        expected_edge=Decimal(d["expected_edge"]),
        legs=tuple(
            Leg(
                symbol=leg["symbol"],
                side=leg["side"],
                quantity=Decimal(leg["quantity"]),
                reduce_only=bool(leg["reduce_only"]),
                expected_price=Decimal(leg["expected_price"]),
                venue=leg.get("venue"),
            )
            for leg in d["legs"]
        ),
    )


class StrategyStore(PnlJournal):
    """Repository for everything one desk's strategy keeps across restarts (and, inherited,
    its PnL journal); rows of another desk (its settings, symbols, approval tokens, journal)
    are never read or changed."""

    # ------------------------------------------------------------------ settings

    async def settings(self) -> StrategySettings:
        async with self.db.session() as s:
            row = await s.get(StrategySettingsRow, (self.desk, 1))
        if row is None:
            return StrategySettings("off", StrategyConfig(), None, None)
        return StrategySettings(
            row.mode,
            StrategyConfig.from_dict(json.loads(row.config)),
            row.user_id,
            row.chat_id,
            bool(row.paused),
        )

    async def save_settings(
        self,
        *,
        now_ms: int,
        mode: str | None = None,
        config: StrategyConfig | None = None,
        user_id: int | None = None,
        chat_id: int | None = None,
        paused: bool | None = None,
    ) -> StrategySettings:
        async with self.db.session() as s, s.begin():
            row = await s.get(StrategySettingsRow, (self.desk, 1))
            if row is None:
                row = StrategySettingsRow(
                    desk_id=self.desk,
                    id=1,
                    mode="off",
                    config=json.dumps(StrategyConfig().to_dict()),
                )
                s.add(row)
            if mode is not None:
                row.mode = mode
            if config is not None:
                row.config = json.dumps(config.to_dict())
            if user_id is not None:
                row.user_id = user_id
            if chat_id is not None:
                row.chat_id = chat_id
            if paused is not None:
                row.paused = paused
            row.updated_at_ms = now_ms
        return await self.settings()

    # ------------------------------------------------------------------ positions

    async def portfolio(self) -> Portfolio:
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(StrategyPositionRow).where(StrategyPositionRow.desk_id == self.desk)
                )
            ).all()
            exits = (
                await s.scalars(select(StrategyExitRow).where(StrategyExitRow.desk_id == self.desk))
            ).all()
        return Portfolio(
            positions=tuple(_position(r) for r in sorted(rows, key=lambda r: r.opened_at_ms)),
            last_exit_ms={e.symbol: e.exited_at_ms for e in exits},
        )

    async def put_position(self, p: StrategyPosition) -> None:
        async with self.db.session() as s, s.begin():
            await s.merge(
                StrategyPositionRow(
                    desk_id=self.desk,
                    symbol=p.symbol,
                    kind=p.kind,
                    perp_quantity=p.perp_quantity,
                    perp_entry=p.perp_entry,
                    spot_symbol=p.spot_symbol,
                    spot_quantity=p.spot_quantity,
                    spot_entry=p.spot_entry,
                    entry_rate=p.entry_rate,
                    opened_at_ms=p.opened_at_ms,
                    hedge_venue=p.hedge_venue,
                )
            )

    async def remove_position(self, symbol: str, *, exited_at_ms: int | None) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(
                delete(StrategyPositionRow).where(
                    StrategyPositionRow.desk_id == self.desk, StrategyPositionRow.symbol == symbol
                )
            )
            if exited_at_ms is not None:
                await s.merge(
                    StrategyExitRow(desk_id=self.desk, symbol=symbol, exited_at_ms=exited_at_ms)
                )

    async def start_cooldown(self, symbol: str, *, at_ms: int) -> None:
        """Record an exit of ``symbol`` at ``at_ms`` without touching its position: an unwound
        entry starts the cooldown, so the next cycle does not open the same pair again."""
        async with self.db.session() as s, s.begin():
            await s.merge(StrategyExitRow(desk_id=self.desk, symbol=symbol, exited_at_ms=at_ms))

    # ------------------------------------------------------------------ approvals

    async def add_approval(
        self,
        token: str,
        action: Action,
        *,
        chat_id: int,
        message_id: int | None,
        now_ms: int,
        expires_at_ms: int,
        status: str = "pending",
    ) -> None:
        """Record an action before anything is sent for it: ``pending`` waits for a tap
        (approve mode), ``executing`` is being sent now (auto mode; a restart finishes it)."""
        async with self.db.session() as s, s.begin():
            s.add(
                StrategyApprovalRow(
                    desk_id=self.desk,
                    token=token,
                    symbol=action.symbol,
                    action=action_to_json(action),
                    status=status,
                    chat_id=chat_id,
                    message_id=message_id,
                    created_at_ms=now_ms,
                    expires_at_ms=expires_at_ms,
                )
            )

    async def set_approval_message(self, token: str, message_id: int) -> None:
        async with self.db.session() as s, s.begin():
            row = await self._approval(s, token)
            if row is not None:
                row.message_id = message_id

    async def extend_approval(self, token: str, expires_at_ms: int) -> None:
        """A re-quoted proposal lives as long as its fresh confirmation."""
        async with self.db.session() as s, s.begin():
            row = await self._approval(s, token)
            if row is not None:
                row.expires_at_ms = expires_at_ms

    async def approval(self, token: str) -> tuple[Action, str] | None:
        async with self.db.session() as s:
            row = await self._approval(s, token)
        return (action_from_json(row.action), row.status) if row else None

    async def _approval(self, s: AsyncSession, token: str) -> StrategyApprovalRow | None:
        return await s.scalar(
            select(StrategyApprovalRow).where(
                StrategyApprovalRow.desk_id == self.desk, StrategyApprovalRow.token == token
            )
        )

    async def pending_symbols(self, now_ms: int) -> set[str]:
        """Symbols with an approval still waiting for a tap (no second proposal meanwhile)."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(StrategyApprovalRow.symbol).where(
                        StrategyApprovalRow.desk_id == self.desk,
                        StrategyApprovalRow.status == "pending",
                        StrategyApprovalRow.expires_at_ms > now_ms,
                    )
                )
            ).all()
        return {r[0] for r in rows}

    async def executing(self) -> list[tuple[str, Action, int]]:
        """Actions left ``executing`` by a stop mid-send: (token, action, chat id)."""
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(StrategyApprovalRow).where(
                        StrategyApprovalRow.desk_id == self.desk,
                        StrategyApprovalRow.status == "executing",
                    )
                )
            ).all()
        return [(r.token, action_from_json(r.action), r.chat_id) for r in rows]

    async def finish_approval(self, token: str, status: str, *, frm: str = "pending") -> bool:
        """Move an approval from ``frm`` to ``status``; ``False`` if it was no longer there."""
        # One conditional UPDATE: two taps racing (or a replay after a restart) cannot both win.
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                update(StrategyApprovalRow)
                .where(
                    StrategyApprovalRow.desk_id == self.desk,
                    StrategyApprovalRow.token == token,
                    StrategyApprovalRow.status == frm,
                )
                .values(status=status)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    # ------------------------------------------------------------------ actions

    async def add_action(self, rec: ActionRecord) -> None:
        async with self.db.session() as s, s.begin():
            s.add(
                StrategyActionRow(
                    desk_id=self.desk,
                    at_ms=rec.at_ms,
                    mode=rec.mode,
                    symbol=rec.symbol,
                    kind=rec.kind,
                    strategy=rec.strategy,
                    reason=rec.reason,
                    order_ids=json.dumps(list(rec.order_ids)),
                    perp_quantity=rec.perp_quantity,
                    perp_price=rec.perp_price,
                    spot_quantity=rec.spot_quantity,
                    spot_price=rec.spot_price,
                    problems=json.dumps(list(rec.problems)),
                )
            )

    async def actions(self, limit: int = 10) -> list[ActionRecord]:
        async with self.db.session() as s:
            rows = (
                (
                    await s.execute(
                        select(StrategyActionRow)
                        .where(StrategyActionRow.desk_id == self.desk)
                        .order_by(StrategyActionRow.at_ms.desc(), StrategyActionRow.id.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        return [
            ActionRecord(
                at_ms=r.at_ms,
                mode=r.mode,
                symbol=r.symbol,
                kind=r.kind,
                strategy=r.strategy,
                reason=r.reason,
                order_ids=tuple(json.loads(r.order_ids)),
                perp_quantity=r.perp_quantity,
                perp_price=r.perp_price,
                spot_quantity=r.spot_quantity,
                spot_price=r.spot_price,
                problems=tuple(json.loads(r.problems)),
            )
            for r in rows
        ]

    async def reasons_by_order(self) -> dict[str, str]:
        """``{order id: reason}`` for every order the strategy placed."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(StrategyActionRow.order_ids, StrategyActionRow.reason).where(
                        StrategyActionRow.desk_id == self.desk
                    )
                )
            ).all()
        out: dict[str, str] = {}
        for ids, reason in rows:
            for oid in json.loads(ids):
                out[oid] = reason
        return out


def _position(r: StrategyPositionRow) -> StrategyPosition:
    kind: Kind = "directional"
    if r.kind == "carry":
        kind = "carry"
    elif r.kind == "cross":
        kind = "cross"
    return StrategyPosition(
        symbol=r.symbol,
        kind=kind,
        perp_quantity=r.perp_quantity,
        perp_entry=r.perp_entry,
        opened_at_ms=r.opened_at_ms,
        entry_rate=r.entry_rate,
        spot_symbol=r.spot_symbol,
        spot_quantity=r.spot_quantity,
        spot_entry=r.spot_entry,
        hedge_venue=r.hedge_venue,
    )


__all__ = [
    "MODES",
    "ActionRecord",
    "JournalEntry",
    "JournalRow",
    "StrategySettings",
    "StrategyStore",
    "action_from_json",
    "action_to_json",
]
