"""The executor: turn an :class:`Action` into market orders through the journaled order path.

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
from typing import Literal, Protocol

from bot.strategy.model import ZERO, Action, Leg, Side

log = logging.getLogger(__name__)

UNWIND_TIMEOUT = 5.0


class LegSender(Protocol):
    """The one order path as the executor sees it: journal the leg, send it, record the
    answer (see :class:`bot.services.orders.sender.OrderSender`); ``step`` names the leg within the
    action ("0", "1", "unwind") so a restart can tell which legs went out."""

    async def __call__(self, leg: Leg, step: str) -> LegFill: ...


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


#: How recovery finished an action a stop interrupted (``ExecutionReport.after_restart``).
RestartOutcome = Literal["booked", "completed", "unwound", "untraded"]


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """The outcome of one action: the legs, any unwind, and anything the user must know.

    ``fees`` is what the legs cost at the account's taker rates; ``cooldown_until_ms`` is set
    when an unwind started the symbol's cooldown; ``after_restart`` says how recovery finished
    an interrupted action (``None``: it ran in one go).
    """

    action: Action
    fills: tuple[LegFill, ...]
    unwinds: tuple[LegFill, ...] = ()
    problems: tuple[str, ...] = ()
    fees: Decimal | None = None
    cooldown_until_ms: int | None = None
    after_restart: RestartOutcome | None = None
    #: When the outcome was booked (epoch ms); 0 until it was.
    at_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def traded(self) -> bool:
        """Whether any order of the action (or its unwind) filled at all."""
        return any(f.filled for f in (*self.fills, *self.unwinds))

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

    def fees_at(self, perp_rate: Decimal, spot_rate: Decimal) -> Decimal:
        """The taker fees of every fill (legs and unwinds) at these rates, in the quote asset:
        perp legs (Backpack's or the hedge venue's) at ``perp_rate``, spot legs at
        ``spot_rate``."""
        total = ZERO
        for f in (*self.fills, *self.unwinds):
            if f.filled and f.average_price is not None:
                perp = (
                    f.symbol == self.action.symbol
                    or f.symbol.endswith("_PERP")
                    or (self.action.strategy == "cross")
                )
                total += f.filled * f.average_price * (perp_rate if perp else spot_rate)
        return total


LegCallback = Callable[[LegFill], Awaitable[None]]


class Executor:
    """Places actions' orders through ``send`` (the journaled order path)."""

    def __init__(self, send: LegSender) -> None:
        self.send = send

    async def place(self, leg: Leg, step: str) -> LegFill:
        """Send one leg (``step`` as :class:`LegSender` names it); a failure is logged."""
        fill = await self.send(leg, step)
        if fill.error is not None:
            log.warning(
                "strategy leg %s %s %s failed: %s", leg.side, leg.quantity, leg.symbol, fill.error
            )
        return fill

    async def execute(self, action: Action) -> ExecutionReport:
        """Place the action's legs; unwind the first if the second cannot match it."""
        first = await self.place(action.legs[0], "0")
        fills = [first]
        if len(action.legs) > 1 and first.filled > 0:
            second = action.legs[1]
            fills.append(
                await self.place(replace(second, quantity=min(first.filled, second.quantity)), "1")
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
        if len(fills) == 1 and first.filled > 0 and action.kind != "close":
            # The hedge never went out (the bot stopped between the legs): undo the first leg
            # rather than leave it naked.
            u = await self.unwind(action.legs[0], first.filled)
            problems.append(f"{action.legs[1].symbol} leg not sent")
            problems.append(
                f"unwound {u.filled} {u.symbol}"
                if u.error is None
                else f"UNWIND FAILED: {u.symbol} still carries {first.filled} unhedged "
                f"({u.error}); close it by hand"
            )
            return ExecutionReport(action, tuple(fills[:1]), (u,), tuple(problems))
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
        unsold = second.requested - second.filled
        if action.kind == "close" and unsold > 0:
            # Re-opening the perp to re-hedge would trade against the exit; the leftover spot is
            # kept on the books and sold by the next cycle ("leftover spot hedge"). What the
            # spot leg never asked for (below its step: dust) is not "left to sell".
            problems.append(f"{unsold} {second.symbol} left to sell on the next cycle")
        elif gap > 0 and action.kind != "close":
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
        # Every hedge-venue leg is a perp; on Backpack the symbol says.
        is_perp = leg.venue is not None or leg.symbol.endswith("_PERP")
        undo = Leg(
            leg.symbol, back, quantity, reduce_only=is_perp, expected_price=ZERO, venue=leg.venue
        )
        try:
            return await asyncio.wait_for(self.place(undo, "unwind"), UNWIND_TIMEOUT)
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
