"""Recovery at start-up: find out what every interrupted request did before doing anything else.

Run by the composition root after the exchange clients are up and before streams, jobs and
updates. In order:

1. Confirmations left ``executing`` (a tap whose orders may have gone out): each journal row
   still ``sending`` is looked up by its clientId (open orders, then history) and recorded as
   filled / partially filled / resting / never placed; the confirmation becomes final, so no ✅
   stays live. Those that came from a strategy proposal are booked by the strategy (and a gap
   between its legs unwound).
2. Every other unsettled journal row (strategy legs in auto mode, unwinds, cancels) likewise.
3. Auto-mode strategy actions left ``executing``: booked from their legs; a half-entered pair
   is completed when the entry rule still holds and the leg is safe to send, otherwise unwound
   (which starts the symbol's cooldown) — see :mod:`bot.services.strategy.resume`.
4. The strategy's positions are reconciled with the exchange's real ones.

Nothing is ever re-sent. When the exchange cannot be asked, the rows stay as they are and
:attr:`Recovered.complete` is false; the caller runs recovery again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.exchange.errors import BackpackError
from bot.services.orders.confirm import Outcome, TradingService
from bot.services.orders.sender import LegStatus, OrderOutcome, OrderSender
from bot.services.strategy.control import ApprovalResult, StrategyService
from bot.services.strategy.resume import resume_interrupted
from bot.storage.trading import KIND_CANCEL, JournalRecord
from bot.strategy.executor import ExecutionReport

log = logging.getLogger("bot.recovery")


@dataclass(frozen=True, slots=True)
class Recovered:
    """What recovery settled, for telling the users (each item exactly once)."""

    confirmations: tuple[Outcome, ...] = ()
    #: Confirmations that were already final; only their messages are edited again.
    finished: tuple[Outcome, ...] = ()
    approvals: tuple[ApprovalResult, ...] = ()
    actions: tuple[tuple[int, ExecutionReport], ...] = ()
    cancels: tuple[tuple[JournalRecord, OrderOutcome], ...] = ()
    notes: tuple[str, ...] = ()
    strategy_chat: int | None = None
    complete: bool = True

    @property
    def empty(self) -> bool:
        return not (
            self.confirmations or self.approvals or self.actions or self.cancels or self.notes
        )


class RecoveryService:
    def __init__(
        self, orders: OrderSender, trading: TradingService, strategy: StrategyService
    ) -> None:
        self.orders = orders
        self.trading = trading
        self.strategy = strategy

    async def run(self) -> Recovered:
        finished = await self.trading.finished_recently()
        confirmations = await self.trading.reconcile()
        approvals = [
            await self.strategy.after(o)
            for o in confirmations
            if (o.origin or "").startswith("strategy:")
        ]
        cancels: list[tuple[JournalRecord, OrderOutcome]] = []
        complete = True
        for row in await self.orders.unsettled():
            if await self.trading.store.get(row.token) is not None:
                complete = False  # its confirmation could not be settled yet (lookup failed)
                continue
            outcome = await self.orders.resolve(row)
            if outcome.status is LegStatus.UNKNOWN and row.kind != KIND_CANCEL:
                complete = False
                continue
            if row.kind == KIND_CANCEL:
                cancels.append((row, outcome))
        actions: list[tuple[int, ExecutionReport]] = []
        notes: list[str] = []
        if complete:
            actions = await resume_interrupted(self.strategy)
            try:
                notes = await self.strategy.reconcile()
            except BackpackError as exc:
                log.warning("strategy reconciliation postponed: %s", exc)
                complete = False
        settings = await self.strategy.store.settings()
        result = Recovered(
            confirmations=tuple(confirmations),
            finished=tuple(finished),
            approvals=tuple(a for a in approvals if a.action is not None),
            actions=tuple(actions),
            cancels=tuple(cancels),
            notes=tuple(notes),
            strategy_chat=settings.chat_id,
            complete=complete,
        )
        if not result.empty:
            log.info(
                "recovery: %d confirmation(s), %d strategy action(s), %d cancel(s) settled",
                len(confirmations),
                len(actions),
                len(cancels),
            )
        return result
