"""The executor: turn an :class:`Action` into market orders through the exchange client.

The legs of a carry trade go out back to back, perp first: the spot leg is sized to what the perp
really filled, so a rejected or partially filled perp never leaves a naked spot leg. When the
second leg of an opening fails or fills short, the first is reduced to match at once (the
*unwind*, bounded by ``UNWIND_TIMEOUT`` seconds) and the report says so, for the user to be told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from bot.exchange.errors import BackpackError
from bot.strategy.model import ZERO, Action, Leg, Side

log = logging.getLogger(__name__)

UNWIND_TIMEOUT = 5.0


class OrderClient(Protocol):
    """What the executor needs from :class:`bot.exchange.client.BackpackAPI`."""

    async def place_order(  # noqa: PLR0917 - mirrors the client's seed-guide signature
        self,
        symbol: str,
        side: str,
        quantity: Decimal | str | int | float | None = None,
        price: Decimal | str | int | float | None = None,
        order_type: str = "LIMIT",
        post_only: bool = False,
        reduce_only: bool = False,
        *,
        time_in_force: str | None = None,
        quote_quantity: Decimal | str | int | float | None = None,
        client_id: int | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LegFill:
    """What happened to one order."""

    symbol: str
    side: Side
    requested: Decimal
    filled: Decimal
    average_price: Decimal | None
    order_id: str | None
    reduce_only: bool = False
    error: str | None = None

    @property
    def signed(self) -> Decimal:
        return self.filled if self.side == "Bid" else -self.filled


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """The outcome of one action: the legs, any unwind, and anything the user must know."""

    action: Action
    fills: tuple[LegFill, ...]
    unwinds: tuple[LegFill, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def perp_filled(self) -> Decimal:
        """Signed perp quantity traded, net of any unwind."""
        perp = self.action.symbol
        return sum((f.signed for f in (*self.fills, *self.unwinds) if f.symbol == perp), ZERO)

    @property
    def spot_filled(self) -> Decimal:
        """Signed spot quantity traded, net of any unwind."""
        perp = self.action.symbol
        return sum((f.signed for f in (*self.fills, *self.unwinds) if f.symbol != perp), ZERO)

    def price_of(self, symbol: str) -> Decimal | None:
        for f in self.fills:
            if f.symbol == symbol and f.average_price is not None:
                return f.average_price
        return None


LegCallback = Callable[[LegFill], Awaitable[None]]


def _fill_of(leg: Leg, order: dict[str, Any]) -> LegFill:
    qty = Decimal(str(order.get("executedQuantity") or 0))
    quote = Decimal(str(order.get("executedQuoteQuantity") or 0))
    oid = order.get("id") or order.get("orderId")
    return LegFill(
        symbol=leg.symbol,
        side=leg.side,
        requested=leg.quantity,
        filled=qty,
        average_price=quote / qty if qty else None,
        order_id=str(oid) if oid is not None else None,
        reduce_only=leg.reduce_only,
    )


class Executor:
    """Places actions' orders; ``on_fill`` (if given) hears every order as it completes."""

    def __init__(self, client: OrderClient, *, on_fill: LegCallback | None = None) -> None:
        self.client = client
        self.on_fill = on_fill

    async def _place(self, leg: Leg) -> LegFill:
        try:
            order = await self.client.place_order(
                leg.symbol,
                leg.side,
                leg.quantity,
                order_type="MARKET",
                reduce_only=leg.reduce_only,
            )
        except BackpackError as exc:
            log.warning("strategy leg %s %s %s failed: %s", leg.side, leg.quantity, leg.symbol, exc)
            return LegFill(
                leg.symbol, leg.side, leg.quantity, ZERO, None, None, leg.reduce_only, str(exc)
            )
        fill = _fill_of(leg, order)
        if self.on_fill is not None:
            await self.on_fill(fill)
        return fill

    async def execute(self, action: Action) -> ExecutionReport:
        """Place the action's legs; unwind the first if the second cannot match it."""
        first = await self._place(action.legs[0])
        fills = [first]
        if len(action.legs) > 1 and first.filled > 0:
            second = action.legs[1]
            fills.append(
                await self._place(replace(second, quantity=min(first.filled, second.quantity)))
            )
        return await self.complete(action, fills)

    async def complete(self, action: Action, fills: list[LegFill]) -> ExecutionReport:
        """Judge legs already sent (here or by the confirmation service) and unwind a gap.

        ``fills`` holds the first leg and, when it was sent, the second.
        """
        first = fills[0]
        problems: list[str] = []
        if first.error is not None:
            problems.append(f"{first.symbol} order failed: {first.error}")
        elif first.filled < first.requested:
            problems.append(f"{first.symbol} filled {first.filled} of {first.requested}")
        if len(action.legs) == 1:
            return ExecutionReport(action, tuple(fills), (), tuple(problems))
        if len(fills) == 1 or first.filled <= 0:
            problems.append(f"{action.legs[1].symbol} leg not sent")
            return ExecutionReport(action, tuple(fills[:1]), (), tuple(problems))
        second = fills[1]
        wanted = min(first.filled, second.requested)
        if second.error is not None:
            problems.append(f"{second.symbol} order failed: {second.error}")
        elif second.filled < wanted:
            problems.append(f"{second.symbol} filled {second.filled} of {wanted}")
        unwinds: list[LegFill] = []
        gap = first.filled - second.filled
        if gap > 0 and action.kind == "close":
            # Re-opening the perp to re-hedge would trade against the exit; the leftover spot is
            # kept on the books and sold by the next cycle ("leftover spot hedge").
            problems.append(f"{gap} {second.symbol} left to sell on the next cycle")
        elif gap > 0:
            u = await self.unwind(action.legs[0], gap)
            unwinds.append(u)
            if u.error is not None:
                problems.append(
                    f"UNWIND FAILED: {u.symbol} still carries {gap} unhedged ({u.error}); "
                    "close it by hand"
                )
            else:
                problems.append(f"unwound {u.filled} {u.symbol} to match the hedge")
        return ExecutionReport(action, tuple(fills), tuple(unwinds), tuple(problems))

    async def unwind(self, leg: Leg, quantity: Decimal) -> LegFill:
        """Trade ``quantity`` of ``leg`` back out (reduce-only on perps), within the timeout."""
        back: Side = "Ask" if leg.side == "Bid" else "Bid"
        is_perp = leg.symbol.endswith("_PERP")
        undo = Leg(leg.symbol, back, quantity, reduce_only=is_perp, expected_price=ZERO)
        try:
            return await asyncio.wait_for(self._place(undo), UNWIND_TIMEOUT)
        except TimeoutError:
            return LegFill(
                undo.symbol,
                back,
                quantity,
                ZERO,
                None,
                None,
                undo.reduce_only,
                f"no answer within {UNWIND_TIMEOUT:.0f} s",
            )
