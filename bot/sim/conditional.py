"""Conditional orders: triggers on mark/last/index, fired once; attached SL/TP."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING

from bot.sim.book import Market
from bot.sim.markets import fmt
from bot.sim.model import (
    DEFAULT_TRIGGER_BY,
    ZERO,
    Account,
    D,
    Order,
    SimError,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Conditional:
    """Conditional orders: triggers on mark/last/index, fired once; attached SL/TP."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def reference_price(self, m: Market, trigger_by: str) -> Decimal:
        """The price a conditional order watches (``triggerBy``)."""
        if trigger_by == "LastPrice":
            return m.last
        if trigger_by == "IndexPrice":
            return m.index
        return m.mark

    def check_triggers(self, m: Market) -> None:
        """Fire the conditional orders of ``m`` whose reference price crossed their trigger.

        Each fires once: it leaves ``m.triggers`` before it runs. A fired order's own trades can
        move the last price and fire others, hence the loop; the guard stops re-entry from the
        matching that firing causes.
        """
        if not m.triggers or self.ex.firing:
            return
        self.ex.firing = True
        try:
            while True:
                due = [o for o in m.triggers if self._crossed(m, o)]
                if not due:
                    break
                for o in due:
                    if o in m.triggers:
                        self._fire(m, o)
        finally:
            self.ex.firing = False

    def _crossed(self, m: Market, o: Order) -> bool:
        assert o.trigger_price is not None
        ref = self.reference_price(m, o.trigger_by or DEFAULT_TRIGGER_BY)
        return ref >= o.trigger_price if o.trigger_above else ref <= o.trigger_price

    def _fire(self, m: Market, o: Order) -> None:
        m.triggers.remove(o)
        acc = self.ex.accounts[o.account]
        acc.open.pop(o.id, None)
        o.triggered_ms = self.ex.now_ms()
        qty = self._trigger_size(acc, m, o)
        if qty is None:
            self._trigger_failed(o)
            return
        o.quantity = qty
        if o.order_type == "Market":
            o.quote_estimate = quantize_to(
                self.ex.margin.estimate_cost(m, o), m.spec.tick, ROUND_UP
            )
        try:
            self.ex.margin.check_funds(acc, m, o)
        except SimError:
            self._trigger_failed(o)
            return
        o.status = "New"
        self.ex.streams.order_event(o, "triggerPlaced")
        self.ex.matching.match(acc, m, o)
        self.ex.changed()

    def _trigger_failed(self, o: Order) -> None:
        o.status = "TriggerFailed"
        self.ex.streams.order_event(o, "triggerFailed")
        self.ex.changed()

    def _trigger_size(self, acc: Account, m: Market, o: Order) -> Decimal | None:
        """The quantity a firing order runs with; ``None`` when it cannot run (no position)."""
        text = o.trigger_quantity or "0"
        pos = acc.positions.get(o.symbol)
        held = abs(pos.qty) if pos is not None else ZERO
        pct = text.endswith("%")
        qty = quantize_to(held * D(text[:-1]) / 100, m.spec.step) if pct else D(text)
        if o.reduce_only:
            if pos is None or not pos.qty or (pos.qty > 0) == (o.side == "Bid"):
                return None
            qty = min(qty, held)
        return qty if qty > 0 else None

    def protect(self, acc: Account, m: Market, parent: Order) -> None:
        """Place (or resize to the filled quantity) the stop-loss/take-profit of ``parent``."""
        side = "Ask" if parent.side == "Bid" else "Bid"
        for kind, bracket in (("stopLoss", parent.stop_loss), ("takeProfit", parent.take_profit)):
            if bracket is None:
                continue
            child = next(
                (
                    o
                    for o in acc.orders.values()
                    if o.related_order_id == parent.id and o.bracket_kind == kind
                ),
                None,
            )
            if child is not None:
                if child.pending and child.trigger_quantity != fmt(parent.executed):
                    child.trigger_quantity = fmt(parent.executed)
                    self.ex.streams.order_event(child, "orderModified")
                continue
            child = Order(
                id=str(self.ex.next_order_id),
                account=acc.key,
                symbol=parent.symbol,
                side=side,
                order_type="Market" if bracket.limit_price is None else "Limit",
                quantity=None,
                price=bracket.limit_price,
                quote_quantity=None,
                client_id=None,
                tif="GTC",
                post_only=False,
                reduce_only=True,
                stp=parent.stp,
                created_ms=self.ex.now_ms(),
                status="TriggerPending",
                reduce_only_sent=True,
                trigger_price=bracket.trigger_price,
                trigger_quantity=fmt(parent.executed),
                trigger_by=bracket.trigger_by,
                # A long's stop fires on a fall, its take-profit on a rise; a short's mirror it.
                trigger_above=(kind == "stopLoss") == (side == "Bid"),
                related_order_id=parent.id,
                bracket_kind=kind,
            )
            self.ex.next_order_id += 1 + self.ex.rng.randint(0, 7)
            self.ex.matching.run(acc, child)

    def cancel_stale_triggers(self, acc: Account, m: Market) -> None:
        """Reduce-only conditional orders go with the position they protect (closed or flipped)."""
        pos = acc.positions.get(m.spec.symbol)
        pq = pos.qty if pos is not None else ZERO
        for o in list(m.triggers):
            if (
                o.account == acc.key
                and o.reduce_only
                and (pq == 0 or (pq > 0) == (o.side == "Bid"))
            ):
                self.ex.matching.cancel_order(acc, m, o)
