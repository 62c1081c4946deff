"""What the exchange's answers become: each request's :class:`LegStatus` and
:class:`OrderOutcome` as the journal records them, read from an order the exchange (or a hedge
venue) returned; and the one sentence for a refused API key. Pure; used by the order path
(:mod:`bot.services.orders.sender`, which re-exports these names)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.keyring.ring import OPERATOR_DESK
from bot.storage.trading import JournalRecord
from bot.venues.port import VenueOrder

ZERO = Decimal(0)


def key_refused(desk: str, *, order: bool = True) -> str:
    """Why a leg (``order``) or a read was refused for its API key, and who fixes it: the
    exchange's own words ("Invalid X-API-Key header") tell a trader neither."""
    whose = "the bot's" if desk == OPERATOR_DESK else "this desk's"
    refused = f"the exchange refused {whose} API key (revoked or expired?)"
    if order:
        refused += ", so nothing was traded"
    if desk == OPERATOR_DESK:
        return f"{refused}; the operator sets new BACKPACK_API_KEY / BACKPACK_API_SECRET"
    return f"{refused}; the desk's owner can /connect new keys (/connect backpack opens the form)"


class LegStatus(StrEnum):
    """What became of one request."""

    FILLED = "filled"
    PLACED = "placed"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected"
    NOT_PLACED = "not_placed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # a cancel request went through


SENT_OK = (LegStatus.FILLED, LegStatus.PLACED, LegStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """The exchange's answer to one request, as recorded in the journal."""

    status: LegStatus
    client_id: int
    order_id: str | None = None
    executed_quantity: Decimal = ZERO
    avg_price: Decimal | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "client_id": self.client_id,
            "order_id": self.order_id,
            "executed_quantity": str(self.executed_quantity),
            "avg_price": None if self.avg_price is None else str(self.avg_price),
            "reason": self.reason,
        }

    @classmethod
    def of_row(cls, row: JournalRecord) -> OrderOutcome:
        """A settled journal row as an outcome."""
        return cls(
            LegStatus(row.status),
            row.client_id,
            row.order_id,
            row.executed_quantity or ZERO,
            row.avg_price,
            row.error or "",
        )


def outcome_of(order: dict[str, Any], requested: Decimal, cid: int) -> OrderOutcome:
    """Classify an order object from the exchange (placed, looked up, or from history)."""
    executed = Decimal(str(order.get("executedQuantity") or 0))
    quote = Decimal(str(order.get("executedQuoteQuantity") or 0))
    avg = quote / executed if executed else None
    wire = str(order.get("status") or "")
    order_id = str(order.get("id") or order.get("orderId") or "") or None
    if wire == "Filled" or (executed and executed >= requested):
        status = LegStatus.FILLED
    elif wire in ("New", "TriggerPending") and not executed:
        status = LegStatus.PLACED
    elif executed:
        status = LegStatus.PARTIALLY_FILLED
    else:
        reason = str(order.get("expiryReason") or wire or "not filled")
        return OrderOutcome(LegStatus.REJECTED, cid, order_id, ZERO, None, reason)
    return OrderOutcome(status, cid, order_id, executed, avg)


def venue_outcome(order: VenueOrder, requested: Decimal, cid: int) -> OrderOutcome:
    """Classify an order from the venue port (the hedge venue)."""
    if order.status == "filled" or (order.filled and order.filled >= requested):
        status = LegStatus.FILLED
    elif order.filled:
        status = LegStatus.PARTIALLY_FILLED
    elif order.status == "open":
        status = LegStatus.PLACED
    else:
        return OrderOutcome(LegStatus.REJECTED, cid, order.order_id, ZERO, None, order.status)
    return OrderOutcome(status, cid, order.order_id, order.filled, order.average_price)
