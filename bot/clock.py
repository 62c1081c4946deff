"""One injectable clock for every room (funding countdowns, expiry, quiet hours, backtests).

Production code takes a :class:`Clock`; tests pass a :class:`FakeClock` and move time by hand
instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time source."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self._t = start

    def time(self) -> float:
        return self._t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, UTC)

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def set(self, t: float) -> None:
        self._t = t


def now_ms(clock: Clock) -> int:
    """Milliseconds since the epoch, as the exchange counts them."""
    return int(clock.time() * 1000)
