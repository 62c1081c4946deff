"""What a confirmation is and what a tap on it leads to: the stored :class:`Preview`, the
:class:`Status` and :class:`Outcome` of a tap, each leg's :class:`LegResult`, and their stored
and wire forms (pure values, no I/O; :class:`bot.services.orders.confirm.TradingService` moves
them through the store and the order path)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.services.orders.intent import Intent, intent_from_json, intent_to_json
from bot.services.orders.quote import LegPreview
from bot.services.orders.sender import SENT_OK, LegStatus, OrderOutcome, WireOrder
from bot.storage.trading import KIND_ORDER, ConfirmationRecord

ZERO = Decimal(0)


def new_token() -> str:
    """An unguessable confirmation token, safe as Telegram callback data (24 chars)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Preview:
    """A stored, priced, not-yet-sent order set; ``token`` is the ✅ button's callback data."""

    token: str
    user_id: int
    chat_id: int
    mode: str
    intent: Intent
    legs: tuple[LegPreview, ...]
    created_at_ms: int
    expires_at_ms: int
    title: str = ""
    origin: str | None = None
    replaces: str | None = None
    drift: Decimal | None = None

    @property
    def ttl_seconds(self) -> int:
        return max(0, (self.expires_at_ms - self.created_at_ms) // 1000)

    @property
    def notional(self) -> Decimal:
        return sum((leg.notional for leg in self.legs), ZERO)

    @property
    def fee(self) -> Decimal:
        return sum((leg.fee for leg in self.legs), ZERO)

    def payload(self) -> str:
        return json.dumps(
            {
                "v": 1,
                "intent": intent_to_json(self.intent),
                "legs": [leg.to_json() for leg in self.legs],
                "title": self.title,
                "origin": self.origin,
                "drift": None if self.drift is None else str(self.drift),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_record(cls, rec: ConfirmationRecord) -> Preview:
        data = json.loads(rec.payload)
        return cls(
            token=rec.token,
            user_id=rec.user_id,
            chat_id=rec.chat_id,
            mode=rec.mode,
            intent=intent_from_json(data["intent"]),
            legs=tuple(LegPreview.from_json(x) for x in data["legs"]),
            created_at_ms=rec.created_at_ms,
            expires_at_ms=rec.expires_at_ms,
            title=data.get("title", ""),
            origin=data.get("origin"),
            replaces=rec.replaces,
            drift=Decimal(data["drift"]) if data.get("drift") is not None else None,
        )


class Status(StrEnum):
    """What a tap led to."""

    FILLED = "filled"  # every leg filled completely
    PLACED = "placed"  # every leg accepted; some rest on the book or filled partly
    PARTIAL = "partial"  # several legs: some went through, some did not
    REJECTED = "rejected"  # the exchange refused the (first) order; nothing was placed
    NOT_PLACED = "not_placed"  # the answer was lost and the lookup shows no such order
    UNKNOWN = "unknown"  # the answer was lost and the lookup failed: check before retrying
    REQUOTED = "requoted"  # the price moved; a fresh preview replaces the old one
    INVALID = "invalid"  # on re-quote the order no longer passes the checks; nothing sent
    UNAVAILABLE = "unavailable"  # the exchange could not be reached before sending; tap again
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    USED = "used"  # already confirmed (or replaced) — nothing more happens
    NOT_YOURS = "not_yours"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class LegResult:
    """What happened to one leg."""

    leg: LegPreview
    status: LegStatus
    client_id: int
    order_id: str | None = None
    executed_quantity: Decimal = ZERO
    avg_price: Decimal | None = None
    reason: str = ""

    @classmethod
    def of(cls, leg: LegPreview, o: OrderOutcome) -> LegResult:
        return cls(
            leg, o.status, o.client_id, o.order_id, o.executed_quantity, o.avg_price, o.reason
        )

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.leg.symbol, **order_outcome(self).to_json()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a tap (or to the expiry sweeper).

    ``preview`` is the confirmation the tap was about (``None`` when the token is unknown);
    ``chat_id``/``message_id`` locate the message showing it; ``new_preview`` is set for
    :attr:`Status.REQUOTED`.
    """

    status: Status
    token: str
    preview: Preview | None = None
    results: tuple[LegResult, ...] = ()
    new_preview: Preview | None = None
    reason: str = ""
    chat_id: int | None = None
    message_id: int | None = None

    @property
    def origin(self) -> str | None:
        return self.preview.origin if self.preview else None

    @property
    def order_ids(self) -> list[str]:
        return [r.order_id for r in self.results if r.order_id]


Listener = Callable[[Outcome], Awaitable[None]]


def confirmation_record(p: Preview, status: str) -> ConfirmationRecord:
    return ConfirmationRecord(
        token=p.token,
        kind=KIND_ORDER,
        user_id=p.user_id,
        chat_id=p.chat_id,
        message_id=None,
        status=status,
        mode=p.mode,
        payload=p.payload(),
        result=None,
        replaces=p.replaces,
        created_at_ms=p.created_at_ms,
        expires_at_ms=p.expires_at_ms,
        used_at_ms=None,
    )


def wire_order(leg: LegPreview) -> WireOrder:
    return WireOrder(
        symbol=leg.symbol,
        side="BUY" if leg.is_buy else "SELL",
        quantity=leg.quantity,
        price=leg.price,
        order_type=leg.order_type,
        post_only=leg.post_only,
        reduce_only=leg.reduce_only,
        venue=leg.venue,
        trigger_price=leg.trigger_price,
        stop_loss=leg.stop_loss,
        take_profit=leg.take_profit,
    )


def order_outcome(r: LegResult) -> OrderOutcome:
    return OrderOutcome(
        r.status, r.client_id, r.order_id, r.executed_quantity, r.avg_price, r.reason
    )


def result_json(status: Status, results: Sequence[LegResult]) -> str:
    return json.dumps(
        {"status": str(status), "legs": [r.to_json() for r in results]}, separators=(",", ":")
    )


def overall_status(results: Sequence[LegResult]) -> Status:
    if not results:
        return Status.NOT_PLACED
    if all(r.status == LegStatus.FILLED for r in results):
        return Status.FILLED
    if all(r.status in SENT_OK for r in results):
        return Status.PLACED
    if any(r.status in SENT_OK for r in results):
        return Status.PARTIAL
    first = next(r for r in results if r.status != LegStatus.SKIPPED)
    return {
        LegStatus.REJECTED: Status.REJECTED,
        LegStatus.NOT_PLACED: Status.NOT_PLACED,
        LegStatus.UNKNOWN: Status.UNKNOWN,
    }.get(first.status, Status.REJECTED)
