"""``/strategy`` on one phone screen, whatever the book holds (pure rendering)."""

from __future__ import annotations

from decimal import Decimal

from bot.render import strategy as render
from bot.services.strategy.control import PositionView, StrategyStatus
from bot.strategy.model import Candidate, StrategyConfig, StrategyPosition

D = Decimal


def _status(positions: int, candidates: int) -> StrategyStatus:
    views = tuple(
        PositionView(
            StrategyPosition(
                symbol=f"C{i}_USDC_PERP",
                kind="carry",
                perp_quantity=D("-0.01"),
                perp_entry=D("97000"),
                opened_at_ms=1_700_000_000_000,
                entry_rate=D("0.0001"),
                spot_symbol=f"C{i}_USDC",
                spot_quantity=D("0.01"),
                spot_entry=D("96990"),
            ),
            D("96950.5"),
            D("0.0000125"),
            D("0.008946"),
        )
        for i in range(positions)
    )
    cands = tuple(
        Candidate(
            symbol=f"X{i}_USDC_PERP",
            funding_rate=D("0.0000125"),
            strategy=None,
            quantity=D(0),
            notional=D(0),
            expected_funding=D(0),
            fees=D(0),
            slippage=D(0),
            edge=D(0),
            eligible=False,
            reason="not above entry_rate 0.01%",
        )
        for i in range(candidates)
    )
    return StrategyStatus("approve", "paper", StrategyConfig(), cands, views)


def test_the_screen_stays_under_25_lines() -> None:
    for positions, candidates in ((0, 0), (1, 3), (3, 8), (12, 40)):
        text = render.status(_status(positions, candidates))
        assert len(text.splitlines()) <= 25, (positions, candidates, text)
    text = render.status(_status(12, 40))
    assert "… and 7 more" in text
    assert "uPnL +0.0089 USDC" in text  # small USDC: 2 significant digits
    assert "+0.0013% per interval" in text


def test_settings_are_labelled_percents() -> None:
    text = render.config_view(_status(0, 0))
    assert "<code>entry_rate</code> 0.01% per interval" in text
    assert "<code>min_edge_bps</code> 5 bps (0.05%)" in text
    assert "<code>stop_loss_pct</code> 3%" in text
    assert "<code>cooldown_minutes</code> 60 min" in text
    cross = StrategyStatus("off", "paper", StrategyConfig(kind="cross"), (), ())
    assert "<code>entry_rate</code> 0.01% per hour" in render.config_view(cross)


def test_a_market_refused_before_sizing_says_why_without_an_empty_edge() -> None:
    text = render.status(_status(0, 1))
    assert "· X0_USDC_PERP +0.0013% per interval — not above entry_rate 0.01%" in text, text
    assert "edge —" not in text
