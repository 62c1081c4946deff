"""Which open conditional orders protect which position — pure, no I/O.

Backpack has no "stop-loss" order type: a stop is a reduce-only conditional order
(``TriggerPending``) on the side that closes the position. Whether it is a stop-loss or a
take-profit follows from where its trigger sits: for a long, below the mark is a stop-loss and
above it a take-profit; for a short, the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PENDING = "TriggerPending"


@dataclass(frozen=True, slots=True)
class StopOrder:
    """One open stop on a position: ``kind`` is ``"sl"`` or ``"tp"``."""

    id: str
    symbol: str
    kind: str
    trigger: Decimal
    quantity: str  # a quantity or "NN%" as the exchange holds it


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def stops_of(
    position: Decimal, mark: Decimal, orders: Iterable[Mapping[str, Any]]
) -> list[StopOrder]:
    """The stops among one market's open ``orders`` that close ``position`` (signed), by
    trigger price (stop-losses first)."""
    if position == 0:
        return []
    closing_side = "Ask" if position > 0 else "Bid"
    out: list[StopOrder] = []
    for o in orders:
        if o.get("status") != PENDING or o.get("side") != closing_side:
            continue
        if o.get("triggerPrice") is None or not o.get("reduceOnly"):
            continue
        trigger = _d(o["triggerPrice"])
        below = trigger < mark
        kind = "sl" if below == (position > 0) else "tp"
        out.append(
            StopOrder(
                id=str(o["id"]),
                symbol=str(o["symbol"]),
                kind=kind,
                trigger=trigger,
                quantity=str(o.get("triggerQuantity") or o.get("quantity") or ""),
            )
        )
    return sorted(out, key=lambda s: (s.kind != "sl", s.trigger))
