"""The one order path: intent → journal row (with its ``clientId``) committed → request → outcome.

Every request that can change the account — a confirmed preview's legs, a strategy's legs in auto
mode, the unwind of a failed leg, ``/cancel`` — goes through :class:`OrderSender`. Its rule: no
request leaves before a journal row naming it is committed, so after a crash at any instant the
journal lists everything that may have reached the exchange, each with the ``clientId`` to look it
up by (:meth:`OrderSender.resolve`). Nothing here retries an order: a lost answer is settled by
that lookup, never by sending again. A desk's placement — journal row, request, outcome — holds
the desk's lock (:class:`~bot.storage.desk_locks.DeskLocks`: across processes on PostgreSQL), so
no other order, strategy cycle or recovery of that desk runs in between.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bot.clock import Clock, SystemClock, now_ms
from bot.exchange.client import BackpackAPI, new_client_id
from bot.exchange.errors import AuthError, BackpackError, NetworkError, OrderStatusUnknown
from bot.faults import crash_point
from bot.services.orders.answers import (
    SENT_OK,
    ZERO,
    LegStatus,
    OrderOutcome,
    key_refused,
    outcome_of,
    venue_outcome,
)
from bot.storage.desk_locks import DeskLocks
from bot.storage.trading import (
    KIND_CANCEL,
    KIND_ORDER,
    SENDING,
    JournalRecord,
    NewJournalEntry,
    TradingStore,
)
from bot.venues.port import HEDGE, Venue, VenueError

__all__ = [  # the order path's names, its answers' among them, from one place
    "SENT_OK",
    "LegStatus",
    "OrderOutcome",
    "OrderSender",
    "WireOrder",
    "key_refused",
    "outcome_of",
    "venue_outcome",
]


@dataclass(frozen=True, slots=True)
class WireOrder:
    """One order as it goes on the wire (already rounded and checked by the caller)."""

    symbol: str
    side: str  # "BUY" | "SELL"
    quantity: Decimal
    price: Decimal | None = None
    order_type: str = "MARKET"
    post_only: bool = False
    reduce_only: bool = False
    #: None: Backpack; HEDGE: the (first) hedge venue; a venue id (``hyperliquid``): that
    #: hedge venue. Hedge venues take market orders only.
    venue: str | None = None
    #: A conditional order: it waits (``TriggerPending``) until the mark price reaches this,
    #: then runs as a ``quantity`` order of ``order_type``.
    trigger_price: Decimal | None = None
    #: Protective trigger prices attached to the order, placed by the exchange when it fills.
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"

    @property
    def is_trigger(self) -> bool:
        return self.trigger_price is not None


class OrderSender:
    """Sends orders and cancels, journaled first; settles journal rows after a restart."""

    def __init__(
        self,
        exchange: BackpackAPI,
        store: TradingStore,
        *,
        mode: str,
        before_send: Callable[[str], Awaitable[None]] | None = None,
        clock: Clock | None = None,
        logger: logging.Logger | None = None,
        hedge: Venue | None = None,
        venues: Mapping[str, Venue] | None = None,
        locks: DeskLocks | None = None,
    ) -> None:
        """``before_send(symbol)`` runs just before an order goes out (paper trading on the
        real exchange's data: copy the real book into the paper engine). ``hedge`` is the
        second venue, for orders whose ``venue`` is :data:`HEDGE`; ``venues`` every hedge
        venue by id (``HEDGE_EXCHANGES``), for orders naming one. ``locks``: the desks' locks
        (the bot's, shared by every desk's sender; by default this sender's own, in-process)."""
        self.locks = locks or DeskLocks()
        self.exchange = exchange
        self.hedge = hedge
        self.venues: dict[str, Venue] = dict(venues or {})
        self.store = store
        self.mode = mode
        self.before_send = before_send
        self.clock: Clock = clock or SystemClock()
        self.logger = logger or logging.getLogger("bot.orders")

    def held(self) -> AbstractAsyncContextManager[None]:
        """This desk's lock, for a placement's whole journal row → request → outcome (raises
        :class:`~bot.storage.desk_locks.DeskBusy` when another holds it for too long)."""
        return self.locks.hold(self.store.desk)

    # ------------------------------------------------------------------ journal rows

    def venue(self, name: str | None) -> Venue | None:
        """The hedge venue an order or a journal row names (``None`` for Backpack)."""
        if name is None:
            return None
        if name == HEDGE:
            return self.hedge
        return self.venues.get(name)

    def entry(
        self, leg: int, order: WireOrder, *, preview: str = "", origin: str | None = None
    ) -> NewJournalEntry:
        """A journal row for ``order`` with a fresh clientId and, on a hedge venue, the id that
        venue will receive for it (not yet stored)."""
        cid = new_client_id()
        venue = self.venue(order.venue)
        return NewJournalEntry(
            leg=leg,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            price=order.price,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            client_id=cid,
            preview=preview,
            kind=KIND_ORDER,
            origin=origin,
            venue=order.venue,
            venue_client_id=venue.client_order_id(cid) if venue is not None else None,
            trigger_price=order.trigger_price,
            stop_loss=order.stop_loss,
            take_profit=order.take_profit,
        )

    async def record(self, token: str, leg: int, outcome: OrderOutcome) -> None:
        """Write the exchange's answer onto the journal row."""
        await self.store.journal_update(
            token,
            leg,
            now_ms(self.clock),
            status=str(outcome.status),
            order_id=outcome.order_id,
            executed_quantity=outcome.executed_quantity,
            avg_price=outcome.avg_price,
            error=outcome.reason or None,
            result=json.dumps(outcome.to_json(), separators=(",", ":")),
        )

    # ------------------------------------------------------------------ sending

    async def place(
        self,
        order: WireOrder,
        *,
        token: str,
        leg: int,
        user_id: int,
        chat_id: int,
        origin: str,
    ) -> OrderOutcome:
        """Journal, send and record one order no confirmation covers (strategy legs, unwinds)."""
        entry = self.entry(leg, order, origin=origin)
        async with self.held():
            await self.store.journal_add(
                token, [entry], user_id=user_id, chat_id=chat_id, mode=self.mode, now_ms=self._now()
            )
            crash_point("journaled")
            outcome = await self.send(order, entry.client_id)
            crash_point("answered")
            await self.record(token, leg, outcome)
        return outcome

    async def send(self, order: WireOrder, cid: int) -> OrderOutcome:
        """The request for an order whose journal row is already committed; never retried."""
        if order.venue is not None:
            return await self._send_hedge(order, cid)
        try:
            if self.before_send is not None:
                await self.before_send(order.symbol)
            if order.is_trigger:
                answer = await self.exchange.place_order(
                    order.symbol,
                    order.side,
                    None,
                    order.price,
                    order_type=order.order_type,
                    reduce_only=order.reduce_only,
                    client_id=cid,
                    trigger_price=order.trigger_price,
                    trigger_quantity=order.quantity,
                )
            else:
                answer = await self.exchange.place_order(
                    order.symbol,
                    order.side,
                    order.quantity,
                    order.price,
                    order_type=order.order_type,
                    post_only=order.post_only,
                    reduce_only=order.reduce_only,
                    client_id=cid,
                    stop_loss=order.stop_loss,
                    take_profit=order.take_profit,
                )
        except OrderStatusUnknown as exc:
            self.logger.error("order cid=%s %s: status unknown: %s", cid, order.symbol, exc)
            return OrderOutcome(LegStatus.UNKNOWN, cid, reason=exc.message)
        except NetworkError as exc:
            # The client looked the clientId up and found nothing: the order does not exist.
            self.logger.info(
                "order %s %s %s cid=%s: not placed: %s",
                order.side,
                order.quantity,
                order.symbol,
                cid,
                exc.message,
            )
            return OrderOutcome(LegStatus.NOT_PLACED, cid, reason=exc.message)
        except BackpackError as exc:
            self.logger.info(
                "order %s %s %s cid=%s: rejected: %s",
                order.side,
                order.quantity,
                order.symbol,
                cid,
                exc.message,
            )
            reason = key_refused(self.store.desk) if isinstance(exc, AuthError) else exc.message
            return OrderOutcome(LegStatus.REJECTED, cid, reason=reason)
        outcome = outcome_of(answer, order.quantity, cid)
        self.logger.info(
            "order %s %s %s cid=%s: %s %s",
            order.side,
            order.quantity,
            order.symbol,
            cid,
            outcome.status,
            outcome.order_id or "",
        )
        return outcome

    async def _send_hedge(self, order: WireOrder, cid: int) -> OrderOutcome:
        """A market order on a hedge venue; a lost answer is settled by a clientId lookup."""
        hedge = self.venue(order.venue)
        if hedge is None:
            return OrderOutcome(
                LegStatus.REJECTED, cid, reason=f"no hedge venue {order.venue} is configured"
            )
        if order.order_type != "MARKET":
            return OrderOutcome(
                LegStatus.REJECTED, cid, reason="the hedge venue takes market orders"
            )
        try:
            placed = await hedge.place_order(
                order.symbol,
                "buy" if order.is_buy else "sell",
                order.quantity,
                client_id=cid,
                reduce_only=order.reduce_only,
            )
        except VenueError as exc:
            if not exc.uncertain:
                return OrderOutcome(LegStatus.REJECTED, cid, reason=exc.message)
            self.logger.warning("hedge order cid=%s: %s; looking it up by clientId", cid, exc)
            return await self._lookup_hedge(hedge, order.symbol, order.quantity, cid)
        crash_point("hedge-answered")  # executed on the hedge venue, the answer not yet kept
        outcome = venue_outcome(placed, order.quantity, cid)
        self.logger.info(
            "%s order %s %s %s cid=%s: %s %s",
            hedge.name,
            order.side,
            order.quantity,
            order.symbol,
            cid,
            outcome.status,
            outcome.order_id or "",
        )
        return outcome

    async def _lookup_hedge(
        self, hedge: Venue, symbol: str, requested: Decimal, cid: int
    ) -> OrderOutcome:
        """The order placed with ``cid`` on ``hedge``, looked up by the id that venue received
        for it (Hyperliquid: the cloid ``cid`` maps to)."""
        try:
            found = await hedge.order_by_client_id(symbol, cid)
        except VenueError as exc:
            return OrderOutcome(LegStatus.UNKNOWN, cid, reason=exc.message)
        if found is None:
            return OrderOutcome(
                LegStatus.NOT_PLACED, cid, reason="the hedge venue never received it"
            )
        return venue_outcome(found, requested, cid)

    async def cancel(
        self, symbol: str | None, order_id: str | None, *, user_id: int, chat_id: int
    ) -> list[dict[str, Any]]:
        """Cancel one order (``order_id``) or every open order (of ``symbol``, or all markets).

        Journaled like an order; a cancel is safe to repeat, so an interrupted one is simply
        reported after a restart with the order's real state.
        """
        token = f"cancel:{new_client_id()}"
        entry = NewJournalEntry(
            leg=0,
            symbol=symbol or "*",
            side="CANCEL",
            order_type="CANCEL",
            quantity=ZERO,
            price=None,
            post_only=False,
            reduce_only=False,
            client_id=0,
            preview="",
            kind=KIND_CANCEL,
            origin="cancel",
            target=order_id,
        )
        async with self.held():
            await self.store.journal_add(
                token, [entry], user_id=user_id, chat_id=chat_id, mode=self.mode, now_ms=self._now()
            )
            try:
                if order_id is not None:
                    assert symbol is not None
                    done = [await self.exchange.cancel_order(symbol, order_id)]
                else:
                    done = await self.exchange.cancel_all_orders(symbol)
            except BackpackError as exc:
                await self.store.journal_update(
                    token, 0, self._now(), status=str(LegStatus.REJECTED), error=exc.message
                )
                raise
            await self.store.journal_update(
                token,
                0,
                self._now(),
                status=str(LegStatus.CANCELLED),
                order_id=order_id,
                result=json.dumps({"cancelled": [str(o.get("id")) for o in done]}),
            )
        self.logger.info("cancelled %d order(s) on %s", len(done), symbol or "every market")
        return done

    # ------------------------------------------------------------------ recovery

    async def unsettled(self) -> list[JournalRecord]:
        return await self.store.unsettled()

    async def resolve(self, row: JournalRecord) -> OrderOutcome:
        """Settle a journal row left ``sending`` by a crash: look the order up by its clientId
        (open orders, then history) and record what is found. Never re-sends anything. Under
        the desk's lock: a row still ``sending`` because its order is in flight right now is
        settled by that placement, and read back once it has been."""
        async with self.held():
            rows = {r.leg: r for r in await self.store.journal_for(row.token)}
            now = rows.get(row.leg, row)
            if now.status != SENDING:
                return OrderOutcome.of_row(now)
            return await self._resolve(now)

    async def _resolve(self, row: JournalRecord) -> OrderOutcome:
        if row.kind == KIND_CANCEL:
            outcome = await self._resolve_cancel(row)
        elif row.venue is not None:
            hedge = self.venue(row.venue)
            if hedge is None:
                return OrderOutcome(
                    LegStatus.UNKNOWN,
                    row.client_id,
                    reason=f"the hedge venue {row.venue} is not configured (HEDGE_EXCHANGES)",
                )
            if row.venue_client_id and row.venue_client_id != hedge.client_order_id(row.client_id):
                return OrderOutcome(
                    LegStatus.UNKNOWN,
                    row.client_id,
                    reason=f"{hedge.name} now names client id {row.client_id} differently",
                )
            outcome = await self._lookup_hedge(hedge, row.symbol, row.quantity, row.client_id)
            if outcome.status is LegStatus.UNKNOWN:
                return outcome
            if outcome.status is LegStatus.NOT_PLACED:
                outcome = replace(
                    outcome, reason="the bot stopped before the hedge venue accepted it"
                )
        else:
            try:
                found = await self.exchange.find_order_by_client_id(row.symbol, row.client_id)
            except BackpackError as exc:
                self.logger.warning("recovery cid=%s: lookup failed: %s", row.client_id, exc)
                return OrderOutcome(LegStatus.UNKNOWN, row.client_id, reason=exc.message)
            if found is None:
                outcome = OrderOutcome(
                    LegStatus.NOT_PLACED,
                    row.client_id,
                    reason="the bot stopped before the exchange accepted it",
                )
            else:
                outcome = outcome_of(found, row.quantity, row.client_id)
        await self.record(row.token, row.leg, outcome)
        return outcome

    async def _resolve_cancel(self, row: JournalRecord) -> OrderOutcome:
        if row.target is None or row.symbol == "*":
            return OrderOutcome(LegStatus.UNKNOWN, 0, reason="interrupted; check /orders")
        try:
            order = await self.exchange.get_order_status(row.symbol, row.target)
        except BackpackError as exc:
            return OrderOutcome(LegStatus.UNKNOWN, 0, row.target, reason=exc.message)
        status = str(order.get("status") or "")
        if status == "Cancelled":
            return OrderOutcome(LegStatus.CANCELLED, 0, row.target)
        return OrderOutcome(LegStatus.UNKNOWN, 0, row.target, reason=f"order is {status}")

    def _now(self) -> int:
        return now_ms(self.clock)
