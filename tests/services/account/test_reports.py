"""The report numbers as pure functions of the journal: calendar periods, round trips,
win rate, average hold, funding's share and the maximum drawdown."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.services.account.reports import (
    equity_points,
    period_starts,
    period_table,
    spread_series,
    stats,
)
from bot.storage.strategy import JournalEntry

D = Decimal
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
H = 3_600_000


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def fill(
    at: int, side: str, qty: str, price: str, fee: str = "0", sym: str = "BTC_USDC_PERP"
) -> JournalEntry:
    return JournalEntry(
        f"f{at}{side}", "fill", "paper", at, sym, side, D(qty), D(price), D(fee), "USDC", D(0)
    )


def funding(at: int, amount: str, sym: str = "BTC_USDC_PERP") -> JournalEntry:
    return JournalEntry(
        f"u{at}", "funding", "paper", at, sym, None, D(0), None, D(0), None, D(amount)
    )


def test_period_starts_are_utc_calendar_periods() -> None:
    days = period_starts("day", 3, NOW)
    assert [d.day for d in days] == [16, 17, 18] and days[-1].hour == 0
    weeks = period_starts("week", 2, NOW)
    assert [w.weekday() for w in weeks] == [0, 0] and weeks[-1].day == 16
    months = period_starts("month", 3, NOW)
    assert [(m.month, m.day) for m in months] == [(1, 1), (2, 1), (3, 1)]


def test_daily_rows_split_fills_fees_and_funding_by_day() -> None:
    today = ms(datetime(2026, 3, 18, 1, tzinfo=UTC))
    yesterday = ms(datetime(2026, 3, 17, 9, tzinfo=UTC))
    journal = [
        fill(yesterday, "Bid", "1", "100", fee="0.5"),
        funding(yesterday + H, "2"),
        fill(today, "Ask", "1", "110", fee="0.5"),
    ]
    rows = period_table(journal, "day", 3, NOW)
    assert [r.label for r in rows] == ["2026-03-17", "2026-03-18"]  # the 16th: no account yet
    assert (rows[0].trades, rows[0].realized, rows[0].funding, rows[0].fees) == (
        1,
        D(0),
        D(2),
        D("0.5"),
    )
    assert rows[0].equity == D("1.5")
    assert (rows[1].trades, rows[1].realized, rows[1].fees, rows[1].net) == (
        1,
        D(10),
        D("0.5"),
        D("9.5"),
    )
    assert rows[1].equity == D("11")  # 10 realised + 2 funding − 1 fees


def test_stats_round_trips_win_rate_hold_share_and_drawdown() -> None:
    t0 = ms(NOW) - 48 * H
    journal = [
        fill(t0, "Bid", "1", "100"),
        funding(t0 + H, "3"),
        fill(t0 + 2 * H, "Ask", "1", "110"),  # +10 realised, +3 funding: a win, held 2 h
        fill(t0 + 3 * H, "Ask", "1", "110"),
        fill(t0 + 7 * H, "Bid", "1", "130"),  # −20: a loss, held 4 h
        fill(t0 + 8 * H, "Bid", "2", "50", sym="SOL_USDC_PERP"),  # still open: no trip
    ]
    s = stats(journal)
    assert [(t.symbol, t.pnl) for t in s.trips] == [
        ("BTC_USDC_PERP", D(13)),
        ("BTC_USDC_PERP", D(-20)),
    ]
    assert s.win_rate == D("0.5")
    assert s.average_hold_s == 3 * 3600
    assert s.funding_share == 1  # realised is −10 overall: funding is all that was earned
    assert stats(journal[:3]).funding_share == D(3) / D(13)
    assert s.max_drawdown == 20  # from +13 down to −7
    assert stats([]).win_rate is None and stats([]).max_drawdown == 0


def test_equity_points_are_sampled_and_keep_the_last() -> None:
    journal = [funding(i * H, "1") for i in range(1, 201)]
    points = equity_points(journal, samples=50)
    assert len(points) <= 51 and points[-1] == (200 * H, D(200))


def test_spread_series_pairs_each_settlement_with_the_other_venues_latest_rate() -> None:
    hourly = [(1 * H, D("0.0001")), (2 * H, D("0.0002")), (3 * H, D("0.0001"))]
    eight_hourly = [(0, D("0.0008")), (8 * H, D("0.0016"))]
    series = spread_series(eight_hourly, D(8), hourly, D(1))
    assert [t for t, _ in series] == [1 * H, 2 * H, 3 * H, 8 * H]
    # short pays 0.0008/8 h = 0.0001/h; the long leg 0.0001/h → 0; then 0.0002/h → −0.0001/h
    assert [v / 8760 for _, v in series] == [D(0), D("-0.0001"), D(0), D("0.0001")]
    assert spread_series([], D(8), hourly, D(1)) == []


def test_tables_start_at_the_accounts_first_day() -> None:
    first = ms(datetime(2026, 3, 17, 9, tzinfo=UTC))
    journal = [fill(first, "Bid", "1", "100"), fill(first + H, "Ask", "1", "101")]
    days = period_table(journal, "day", 7, NOW)
    assert [r.label for r in days] == ["2026-03-17", "2026-03-18"]
    opened = ms(datetime(2026, 3, 15, 23, tzinfo=UTC))  # the desk opened before its first fill
    days = period_table(journal, "day", 7, NOW, opened_ms=opened)
    assert [r.label for r in days] == ["2026-03-15", "2026-03-16", "2026-03-17", "2026-03-18"]
    assert [r.label for r in period_table(journal, "week", 4, NOW)] == ["2026-W12"]
    assert [r.label for r in period_table(journal, "month", 3, NOW)] == ["2026-03"]
    # a new desk with no journal yet: only the current period
    fresh = period_table([], "day", 7, NOW, opened_ms=ms(NOW) - H)
    assert [r.label for r in fresh] == ["2026-03-18"] and fresh[0].net == 0
