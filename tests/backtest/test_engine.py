"""The backtest engine on synthetic series: funding accrues, costs are charged, exits fire."""

from __future__ import annotations

from decimal import Decimal

from bot.strategy.backtest import Candle, SymbolHistory, run_backtest
from bot.strategy.model import StrategyConfig

D = Decimal
T0 = 1_750_000_000_000 // 3_600_000 * 3_600_000
H = 3_600_000


def history(
    rates: list[str], prices: list[str] | None = None, symbol: str = "BTC_USDC_PERP"
) -> SymbolHistory:
    n = len(rates)
    px = prices or ["100"] * n
    return SymbolHistory(
        symbol=symbol,
        base=symbol.split("_", maxsplit=1)[0],
        funding=tuple((T0 + (i + 1) * H, D(r)) for i, r in enumerate(rates)),
        candles=tuple(Candle(T0 + i * H, D(p), D(1_000_000)) for i, p in enumerate(px)),
        step_size=D("0.01"),
        min_quantity=D("0.01"),
        spot_symbol=f"{symbol.split('_', maxsplit=1)[0]}_USDC",
    )


def test_constant_high_funding_carry_collects_it() -> None:
    result = run_backtest([history(["0.0005"] * 48)], StrategyConfig(max_hold_hours=D(1000)))
    (trade,) = result.trades
    assert trade.kind == "open"
    assert trade.quantity == D(-10)  # 1000 USDC short at 100
    # opened after the first settlement; funded on the remaining 47 interval ends
    assert result.funding == D("0.0005") * 10 * 100 * 47
    assert result.fees > 0
    assert result.net == result.funding - result.fees + result.realized + result.unrealized
    assert result.net > 0
    assert len(result.equity) == 48
    assert result.max_drawdown < D("0.001")


def test_flip_closes_and_cooldown_blocks_reentry() -> None:
    rates = ["0.0005"] * 5 + ["-0.0002"] + ["0.0005"] * 5
    result = run_backtest([history(rates)], StrategyConfig(cooldown_minutes=90))
    kinds = [(t.kind, (t.at_ms - T0) // H) for t in result.trades]
    # open at 1 h, flip seen at 6 h → close; 90 min cooldown skips 7 h → reopen at 8 h
    assert kinds == [("open", 1), ("close", 6), ("open", 8)]
    assert "flipped" in result.trades[1].reason


def test_quiet_market_never_trades() -> None:
    result = run_backtest([history(["0.0000125"] * 100)], StrategyConfig())
    assert result.trades == ()
    assert result.net == 0
    assert result.annualised_return == 0


def test_directional_loses_on_adverse_move_and_stops_out() -> None:
    prices = ["100", "100", "100", "101", "103", "105", "106", "106"]
    cfg = StrategyConfig(kind="directional")
    result = run_backtest([history(["0.0005"] * 8, prices)], cfg)
    kinds = [t.kind for t in result.trades]
    assert kinds[:2] == ["open", "close"]
    assert "stop-loss" in result.trades[1].reason
    assert result.realized < 0


def test_several_symbols_respect_max_positions() -> None:
    hs = [history(["0.0005"] * 24, symbol=f"C{i}_USDC_PERP") for i in range(5)]
    result = run_backtest(hs, StrategyConfig(max_positions=2))
    opens = [t for t in result.trades if t.kind == "open"]
    assert len(opens) == 2
    assert result.annualised_return > 0
