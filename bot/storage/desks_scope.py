"""Questions across desks, for the composition root: which desks must be built now.

Every other read of the per-desk tables goes through a store scoped to one desk
(:class:`~bot.storage.trading.TradingStore`, :class:`~bot.storage.strategy.StrategyStore`,
:class:`~bot.storage.events.EventStore`); these few look at all desks at once so that start-up
can build the desks that have something to finish, and the strategy's cycle can find the desks
whose strategy runs, without building every idle desk.
"""

from __future__ import annotations

from sqlalchemy import select, union

from bot.storage.db import Database
from bot.storage.events import MessageButton
from bot.storage.secrets import DeskSecret
from bot.storage.strategy import StrategyApprovalRow, StrategySettingsRow
from bot.storage.trading import EXECUTING, PENDING, SENDING, Confirmation, OrderJournalEntry


async def desks_to_recover(db: Database) -> set[str]:
    """Desks with something a stop may have interrupted, exactly what
    :class:`~bot.services.recovery.RecoveryService` settles: confirmations left ``executing``
    (``TradingStore.stuck``), journal rows still ``sending`` (``TradingStore.unsettled``) and
    strategy actions left ``executing`` (``StrategyStore.executing``)."""
    return await _desks(db, pending=False)


async def desks_with_unfinished_work(db: Database) -> set[str]:
    """:func:`desks_to_recover`, and the desks with a ✅ still on offer: a ``pending``
    confirmation (``TradingStore.due`` expires it, so the desk must be up for it) or a strategy
    proposal waiting for a tap (``StrategyStore.pending_symbols``)."""
    return await _desks(db, pending=True)


async def desks_with_strategy_on(db: Database) -> set[str]:
    """Desks whose strategy mode is not ``off`` (a paused strategy is on: exits, stops and the
    delta check go on)."""
    async with db.session() as s:
        rows = await s.scalars(
            select(StrategySettingsRow.desk_id).where(StrategySettingsRow.mode != "off")
        )
        return set(rows)


async def desk_of_tap(db: Database, chat_id: int, message_id: int, token: str | None) -> str | None:
    """The desk a tapped button belongs to: the desk of the order confirmation or strategy
    proposal ``token`` (the ✅ / ❌ pairs), else the desk whose buttons message ``message_id``
    in ``chat_id`` carries (Close / Cancel under /positions and /orders). None when unknown."""
    queries = [
        select(MessageButton.desk_id).where(
            MessageButton.chat_id == chat_id, MessageButton.message_id == message_id
        )
    ]
    if token:
        queries[:0] = [
            select(Confirmation.desk_id).where(Confirmation.token == token),
            select(StrategyApprovalRow.desk_id).where(StrategyApprovalRow.token == token),
        ]
    async with db.session() as s:
        for query in queries:
            desk = await s.scalar(query.limit(1))
            if desk is not None:
                return str(desk)
    return None


async def _desks(db: Database, *, pending: bool) -> set[str]:
    confirmations = (EXECUTING, PENDING) if pending else (EXECUTING,)
    approvals = ("executing", "pending") if pending else ("executing",)
    query = union(
        select(Confirmation.desk_id).where(Confirmation.status.in_(confirmations)),
        select(OrderJournalEntry.desk_id).where(OrderJournalEntry.status == SENDING),
        select(StrategyApprovalRow.desk_id).where(StrategyApprovalRow.status.in_(approvals)),
    )
    async with db.session() as s:
        return {str(d) for d in (await s.execute(query)).scalars()}


async def desks_with_due_confirmations(db: Database, now_ms: int) -> set[str]:
    """Desks with a ``pending`` confirmation whose time is up (what ``TradingStore.due`` of
    each would return): one query for the expiry sweeper, not one per built desk."""
    async with db.session() as s:
        rows = await s.scalars(
            select(Confirmation.desk_id)
            .where(Confirmation.status == PENDING, Confirmation.expires_at_ms <= now_ms)
            .distinct()
        )
        return {str(d) for d in rows}


async def desks_with_own_keys(db: Database, venue: str) -> set[str]:
    """Desks whose own credentials for ``venue`` are stored (their account, and its private
    stream, exists on the exchange): what the worker processes watch and lease streams for."""
    async with db.session() as s:
        rows = await s.scalars(select(DeskSecret.desk_id).where(DeskSecret.venue == venue))
        return {str(d) for d in rows}
