"""The spread's stability from two venues' funding histories (pure)."""

from __future__ import annotations

from decimal import Decimal as D

from bot.venues.stability import HOUR_MS, hourly_spread, stability

NOW = 1_000 * 24 * HOUR_MS


def test_hour_by_hour_without_look_ahead_across_intervals() -> None:
    # ours pays hourly 0.0001; theirs every 8 h 0.0008 then 0.0016
    ours = [(NOW - h * HOUR_MS, D("0.0001")) for h in range(24)]
    theirs = [(NOW - 16 * HOUR_MS, D("0.0008")), (NOW - 8 * HOUR_MS, D("0.0016"))]
    series = hourly_spread(ours, D(1), theirs, D(8), since_ms=NOW - 24 * HOUR_MS, until_ms=NOW)
    assert series[0] == (NOW - 16 * HOUR_MS, D(0))  # first hour both are known
    assert dict(series)[NOW - 9 * HOUR_MS] == D(0)  # theirs' second rate not yet paid
    assert dict(series)[NOW] == (D("0.0001") - D("0.0002")) * 8760


def test_windows_and_how_long_the_sign_has_held() -> None:
    old = [(NOW - h * HOUR_MS, D(-5)) for h in range(100, 30 * 24)]
    recent = [(NOW - h * HOUR_MS, D(10 + h % 3)) for h in range(100)]
    s = stability(sorted(old + recent), NOW)
    three, seven, thirty = s.windows
    assert (three.days, three.hours, three.median_apr) == (3, 72, D(11))
    assert (seven.median_apr, seven.low_apr) == (D(10), D(-5))  # 68 of 168 hours at −5
    assert thirty.hours == 30 * 24 and (thirty.low_apr, thirty.spread_apr) == (D(-5), D(15))
    assert s.sign_held_hours == 100


def test_no_history_no_windows() -> None:
    s = stability([], NOW)
    assert s.windows == () and s.sign_held_hours == 0
