"""A desk's order rate cap (``DESK_ORDERS_PER_MINUTE``): orders that open or add risk are
counted over the last minute; closing and reducing are never refused (taking risk off must
always work)."""

from __future__ import annotations

import math
from collections import deque

from bot.clock import Clock, now_ms
from bot.services.orders.intent import CloseIntent, Intent, IntentError, MultiLeg, OrderIntent

WINDOW_MS = 60_000


def adds_risk(intent: Intent) -> bool:
    """True for an order that may open or grow a position; closes, reduce-only orders and
    stop-loss/take-profit orders (which only ever reduce) are not capped."""
    if isinstance(intent, CloseIntent):
        return False
    if isinstance(intent, OrderIntent):
        return not intent.reduce_only
    if isinstance(intent, MultiLeg):  # a pair that opens (an exit's legs reduce)
        return any(adds_risk(leg) for leg in intent.legs)
    return False


class OrderRate:
    """At most ``per_minute`` risk-adding orders a minute for one desk."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._sent: deque[int] = deque()

    def _trim(self, now: int) -> None:
        while self._sent and self._sent[0] <= now - WINDOW_MS:
            self._sent.popleft()

    def check(self, intent: Intent) -> None:
        """Raise :class:`IntentError` when ``intent`` would go past the cap."""
        if not adds_risk(intent):
            return
        now = now_ms(self.clock)
        self._trim(now)
        if len(self._sent) >= self.per_minute:
            wait = math.ceil((self._sent[0] + WINDOW_MS - now) / 1000)
            raise IntentError(
                f"This desk has placed {len(self._sent)} orders in the last minute, the most "
                f"this bot allows a desk; try again in {max(wait, 1)} s.",
                "closing or reducing a position is never held back",
            )

    def count(self, orders: int = 1) -> None:
        """``orders`` risk-adding orders went out now."""
        now = now_ms(self.clock)
        self._trim(now)
        self._sent.extend([now] * orders)
