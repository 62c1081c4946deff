"""The cross rules (hysteresis, flip, max hold, cooldown) and the backtest, by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.strategy.cross import (
    CrossConfig,
    Holding,
    VenueHistory,
    decide_cross,
    run_cross_backtest,
    spread_apr,
)

H = 3_600_000
CFG = CrossConfig()  # entry 20 % APR, exit 5 %, 72 h max, 4 h cooldown


def test_spread_apr_uses_each_interval() -> None:
    assert spread_apr(D("0.0001"), D(1), D("0.0008"), D(8)) == 0
    assert spread_apr(D("0.0001"), D(1), D(0), D(8)) == D("0.876")


def test_open_either_way_only_above_entry() -> None:
    d = decide_cross(D("0.25"), None, 0, None, CFG)
    assert d is not None and (d.kind, d.short) == ("open", "a")
    d = decide_cross(D("-0.25"), None, 0, None, CFG)
    assert d is not None and (d.kind, d.short) == ("open", "b")
    assert decide_cross(D("0.10"), None, 0, None, CFG) is None


def test_exit_hysteresis_flip_and_max_hold() -> None:
    held = Holding("a", D(1), D(100), D(100), 0)
    assert decide_cross(D("0.10"), held, H, None, CFG) is None  # between exit and entry: hold
    d = decide_cross(D("0.04"), held, H, None, CFG)
    assert d is not None and d.kind == "close" and "below the exit" in d.reason
    d = decide_cross(D("-0.01"), held, H, None, CFG)
    assert d is not None and d.reason == "the spread flipped"
    short_b = Holding("b", D(1), D(100), D(100), 0)
    assert decide_cross(D("-0.30"), short_b, 71 * H, None, CFG) is None
    d = decide_cross(D("-0.30"), short_b, 72 * H, None, CFG)
    assert d is not None and d.reason == "maximum holding time"


def test_cooldown_after_an_exit_prevents_a_loop() -> None:
    assert decide_cross(D("0.5"), None, 5 * H, 2 * H, CFG) is None
    assert decide_cross(D("0.5"), None, 6 * H, 2 * H, CFG) is not None
    with pytest.raises(ValueError, match="hysteresis"):
        CrossConfig(entry_apr=D("0.05"), exit_apr=D("0.05"))


def venue(name: str, hours: int, funding: list[tuple[int, str]]) -> VenueHistory:
    return VenueHistory(
        name=name,
        interval_hours=D(hours),
        funding=tuple((t, D(r)) for t, r in funding),
        closes=tuple((t * H, D(100)) for t in range(1, 6)),
        step=D("0.1"),
        min_quantity=D("0.1"),
        taker_fee=D("0.0005"),
        half_spread=D("0.0002"),
    )


def test_backtest_by_hand() -> None:
    a = venue("A", 1, [(1 * H, "0.0001"), (2 * H, "0.0001"), (3 * H, "0.0001"), (4 * H, "0")])
    b = venue("B", 8, [(0, "0")])
    r = run_cross_backtest(a, b, CFG)
    # 1 h: spread 87.6 % APR → short A, 10 BTC at 100; each trade costs 10 × 100 × 0.0007 × 2.
    # 2 h, 3 h: A pays 0.0001 × 10 × 100 = 0.1 to the short. 4 h: rate 0 → close.
    [trade] = r.trades
    assert (trade.short, trade.quantity, trade.opened_ms, trade.closed_ms) == ("A", D(10), H, 4 * H)
    assert trade.funding == D("0.2") and trade.costs == D("2.8") and trade.basis == 0
    assert r.net == D("-2.6")
    assert [e for _, e in r.equity] == [D("-1.4"), D("-1.3"), D("-1.2"), D("-2.6"), D("-2.6")]


def test_same_money_per_hour_is_no_trade() -> None:
    a = venue("A", 8, [(1 * H, "0.0008")])
    b = venue("B", 1, [(h * H, "0.0001") for h in range(1, 6)])
    assert run_cross_backtest(a, b, CFG).trades == ()
