"""Proposals and approvals: an action becomes a single-use confirmation in the trading service
(the same owner-only, expiring ✅ as a manual order); its tap, its ❌, its expiry or recovery
after a restart come back here to be unwound where needed and booked."""

from __future__ import annotations

import secrets

from bot.services import access
from bot.services.access import Actor
from bot.services.orders.confirm import Outcome, Status
from bot.services.orders.intent import IntentError, MultiLeg, OrderIntent
from bot.services.orders.sender import SENT_OK, LegStatus
from bot.services.strategy.books import Books
from bot.services.strategy.core import StrategyCore
from bot.services.strategy.values import ORIGIN, ApprovalResult, Proposal
from bot.strategy.executor import LegFill
from bot.strategy.model import Action


class Approvals:
    """Strategy actions as proposals, and what their confirmations did."""

    def __init__(self, core: StrategyCore, books: Books) -> None:
        self.core = core
        self.books = books

    async def propose_cross(
        self, text: str, actor: Actor, *, venue_id: str | None = None
    ) -> Proposal:
        """The /arb "Open" button: a cross entry for one asset as a strategy proposal (the
        usual preview and single-use ✅); the position is then the strategy's to manage."""
        c = self.core
        actor.require(access.Action.TRADE)
        if c.cross is None:
            raise IntentError("Cross trading needs a hedge venue that orders can go to.", "")
        config = (await c.store.settings()).config
        action = await c.cross.open_for(text, config, venue_id)
        return await self.propose(action, actor, c.now_ms())

    async def propose(self, action: Action, actor: Actor, now: int) -> Proposal:
        """A pending confirmation in the trading service (the same single-use, owner-only,
        expiring one as manual orders), tagged so the tap comes back to the strategy."""
        c = self.core
        action = await c.prepare(action)
        aid = secrets.token_urlsafe(12)
        intent = MultiLeg(
            legs=tuple(
                OrderIntent(
                    side="buy" if leg.is_buy else "sell",
                    market=leg.symbol,
                    quantity=leg.quantity,
                    reduce_only=leg.reduce_only,
                    venue=leg.venue,
                )
                for leg in action.legs
            ),
            title=f"Strategy: {action.kind} {action.symbol} ({_kind_title(action)})",
            origin=f"{ORIGIN}{aid}",
        )
        preview = await c.trading.preview(actor, intent)
        chat_id = actor.chat_id
        await c.store.add_approval(
            aid,
            action,
            chat_id=chat_id,
            message_id=None,
            now_ms=now,
            expires_at_ms=preview.expires_at_ms,
        )
        return Proposal(preview.token, action, preview.expires_at_ms, chat_id, preview)

    async def approve(self, token: str, actor: Actor) -> ApprovalResult:
        """The ✅ tap: the trading service's single-use confirm (which checks ``actor``),
        then unwind and book."""
        actor.require(access.Action.TRADE)
        async with self.core.lock:
            outcome = await self.core.trading.confirm(actor, token)
            return await self.finish(outcome)

    async def reject(self, token: str, actor: Actor) -> ApprovalResult:
        """The ❌ tap: cancel the confirmation; nothing is sent."""
        return await self.finish(await self.core.trading.cancel(actor, token))

    async def after(self, outcome: Outcome) -> ApprovalResult:
        """Book what a confirmation of a strategy proposal did (a tap, or recovery after a
        restart settling one); unwind a hedge gap. Other confirmations pass through."""
        async with self.core.lock:
            return await self.finish(outcome)

    async def finish(self, outcome: Outcome) -> ApprovalResult:
        """:meth:`after` without the lock (the caller holds it)."""
        c = self.core
        origin = outcome.origin or ""
        if not origin.startswith(ORIGIN):
            return ApprovalResult(outcome)
        aid = origin.removeprefix(ORIGIN)
        found = await c.store.approval(aid)
        if found is None:
            return ApprovalResult(outcome)
        action, _ = found
        if outcome.status == Status.REQUOTED and outcome.new_preview is not None:
            fresh = outcome.new_preview
            await c.store.extend_approval(aid, fresh.expires_at_ms)
            return ApprovalResult(
                outcome,
                action,
                proposal=Proposal(fresh.token, action, fresh.expires_at_ms, fresh.chat_id, fresh),
            )
        if outcome.status in (Status.CANCELLED, Status.EXPIRED, Status.INVALID):
            await c.store.finish_approval(aid, str(outcome.status))
            return ApprovalResult(outcome, action)
        if not outcome.results:
            return ApprovalResult(outcome, action)
        fills = [
            LegFill(
                symbol=r.leg.symbol,
                side="Bid" if r.leg.is_buy else "Ask",
                requested=r.leg.quantity,
                filled=r.executed_quantity,
                average_price=r.avg_price,
                order_id=r.order_id,
                reduce_only=r.leg.reduce_only,
                error=None if r.status in SENT_OK else (r.reason or str(r.status)),
            )
            for r in outcome.results
            if r.status != LegStatus.SKIPPED
        ]
        preview = outcome.preview
        owner = (preview.user_id, preview.chat_id) if preview else (0, 0)
        report = await c.executor(aid, *owner).complete(action, fills)
        report = await self.books.settle(action, report, "approve")
        await c.store.finish_approval(aid, "executed")
        if action.kind == "open":
            await self.books.ensure_stops((await c.store.settings()).config, *owner)
        await c.sync_journal()
        return ApprovalResult(outcome, action, report)


def _kind_title(action: Action) -> str:
    if action.strategy != "cross":
        return action.strategy
    return "cross: backpack + hedge venue"
