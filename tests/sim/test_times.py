"""The history endpoints' times: made once per millisecond, the same text as datetime makes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bot.sim.model import iso


def _datetime_text(ts: float, ms: bool) -> str:
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] if ms else text[:-7]


def test_iso_matches_datetime_around_every_millisecond_boundary() -> None:
    rng = random.Random(5)
    nudges = (-1e-6, -5e-7, -4e-7, 0.0, 4e-7, 5e-7, 1e-6, 9.99e-4, 9.995e-4)
    for i in range(20_000):
        ts = 1_790_000_000.0 + rng.random() * 10
        if i % 2:
            ts = round(ts, 3) + rng.choice(nudges)  # the cache's edge: rounding carries
        for t in (ts, ts + 1e-7, ts + 2e-4):  # repeated within a millisecond: cached
            assert iso(t) == _datetime_text(t, True), t
            assert iso(t, ms=False) == _datetime_text(t, False), t
