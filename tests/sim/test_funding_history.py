"""The simulator's funding history comes from the same process as its live rate."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import pairwise
from statistics import mean

import pytest

from bot.sim.engine import Engine
from bot.sim.history import funding_path
from bot.sim.model import HOUR


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_recent_settled_funding_is_close_to_the_live_rate(seed: int) -> None:
    engine = Engine(seed=seed)
    for m in engine.ex.markets.values():
        if not m.spec.is_perp:
            continue
        live = float(m.funding_rate)
        scale = max(abs(live), 0.00001)
        settled = [float(r) for _, r in m.funding_history]
        assert len(settled) >= 24 * 30
        last_day = mean(settled[-24:])
        # Within about one "rate" of the live one: before, BTC's last day averaged ~0.02 %/h
        # (16× its live +0.00125 %/h) whenever a generated regime was on.
        assert abs(last_day - live) <= 1.5 * scale, (m.spec.symbol, last_day, live)
        assert abs(settled[-1] - live) <= 1.0 * scale, (m.spec.symbol, settled[-1], live)
        assert abs(mean(settled) - live) <= 2.0 * scale, (m.spec.symbol, mean(settled), live)
        assert max(abs(x) for x in settled) <= live + 8 * scale + abs(live)


def test_the_path_moves_and_ends_at_the_present() -> None:
    path = funding_path(random.Random(3), Decimal("0.0000125"), 35 * 24)
    assert len(path) == 35 * 24 and len(set(path)) > 100  # a walk, not a constant
    assert abs(path[-1] - 0.0000125) < 0.00001


def test_history_is_stamped_once_per_funding_interval() -> None:
    engine = Engine(seed=1, funding_interval=8 * HOUR)
    btc = engine.ex.markets["BTC_USDC_PERP"]
    stamps = [t for t, _ in btc.funding_history]
    assert all(b - a == 8 * HOUR for a, b in pairwise(stamps))
