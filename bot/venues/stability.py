"""How steady a spread has been: median and spread over the last 3/7/30 days, and how long the
current sign has held (pure; from each venue's settled funding history).

Each venue's history is a list of ``(payment time ms, rate per interval)``; the spread at an
hour is Backpack's last settled rate per hour minus the hedge venue's (as APR), so venues that
pay on different schedules are compared hour by hour without look-ahead.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.venues.spread import HOURS_PER_YEAR

HOUR_MS = 3_600_000
WINDOWS_DAYS = (3, 7, 30)


@dataclass(frozen=True, slots=True)
class Window:
    days: int
    hours: int  # hours with both rates known
    median_apr: Decimal
    low_apr: Decimal  # 10th percentile
    high_apr: Decimal  # 90th percentile

    @property
    def spread_apr(self) -> Decimal:
        """How far the spread moved (10th to 90th percentile): small = steady."""
        return self.high_apr - self.low_apr


@dataclass(frozen=True, slots=True)
class Stability:
    windows: tuple[Window, ...]
    sign_held_hours: int  # hours the current sign of the spread has held (0: no history)


def _rate_at(history: Sequence[tuple[int, Decimal]], t_ms: int) -> Decimal | None:
    i = bisect.bisect_right(history, (t_ms, Decimal("Infinity")))
    return history[i - 1][1] if i else None


def hourly_spread(
    ours: Sequence[tuple[int, Decimal]],
    ours_interval_hours: Decimal,
    theirs: Sequence[tuple[int, Decimal]],
    theirs_interval_hours: Decimal,
    *,
    since_ms: int,
    until_ms: int,
) -> list[tuple[int, Decimal]]:
    """``(hour ms, APR(ours) − APR(theirs))`` for every hour both venues had a settled rate."""
    a, b = sorted(ours), sorted(theirs)
    out = []
    start = since_ms - since_ms % HOUR_MS + HOUR_MS
    for t in range(start, until_ms + 1, HOUR_MS):
        ra, rb = _rate_at(a, t), _rate_at(b, t)
        if ra is None or rb is None:
            continue
        spread = (ra / ours_interval_hours - rb / theirs_interval_hours) * HOURS_PER_YEAR
        out.append((t, spread))
    return out


def _quantile(values: Sequence[Decimal], q: Decimal) -> Decimal:
    """Linear interpolation between the closest ranks (``values`` sorted, not empty)."""
    pos = (len(values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def stability(series: Sequence[tuple[int, Decimal]], now_ms: int) -> Stability:
    """The windows (those with data) and the current sign's run over ``series``."""
    windows = []
    for days in WINDOWS_DAYS:
        values = sorted(v for t, v in series if t > now_ms - days * 24 * HOUR_MS)
        if not values:
            continue
        windows.append(
            Window(
                days,
                len(values),
                _quantile(values, Decimal("0.5")),
                _quantile(values, Decimal("0.1")),
                _quantile(values, Decimal("0.9")),
            )
        )
    held = 0
    if series:
        sign = series[-1][1] > 0
        for _t, v in reversed(series):
            if v == 0 or (v > 0) != sign:
                break
            held += 1
    return Stability(tuple(windows), held)
