"""The price walk of the scale bench: ``/_sim/price`` steps that cross every seeded alert."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal

from bench.scale.run import SYMBOL, Stack

#: Steps of the walk; the last one is past the highest alert threshold.
STEPS = 30
#: How far above the start price the walk ends (the seed spreads thresholds over +3 %).
RISE = Decimal("0.035")


@dataclass(frozen=True)
class Step:
    at: float  # time.monotonic() when the simulator took the price
    price: Decimal


async def walk(stack: Stack, seconds: float) -> list[Step]:
    """Raise the price from the start to ``start × (1 + RISE)`` in :data:`STEPS` even steps over
    ``seconds``; each step's time and price."""
    start = stack.start_price
    out: list[Step] = []
    pause = seconds / STEPS
    for i in range(1, STEPS + 1):
        price = (start * (1 + RISE * i / STEPS)).quantize(Decimal("0.1"))
        await stack.sim_post("/_sim/price", {"symbol": SYMBOL, "price": str(price)})
        out.append(Step(time.monotonic(), price))
        await asyncio.sleep(pause)  # the walk's pace, not a wait for a result
    return out


def crossing(steps: list[Step], threshold: Decimal) -> Step | None:
    """The first step at or above ``threshold`` (when the alert should fire)."""
    return next((s for s in steps if s.price > threshold), None)
