"""``python -m bot.backtest --cross --sim``: two simulators (1 h and 8 h funding), the second
read through ccxt's ``backpack`` class, replayed by the cross backtest."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backtest.__main__ import main


def test_cross_backtest_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eq.png"
    assert main(["--cross", "--sim", "--symbol", "BTC", "--days", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Backtest BTC cross (backpack every 1h vs backpack (hedge) every 8h)" in text
    assert "Funding earned on both venues" in text and "Net:" in text
    assert out.read_bytes().startswith(b"\x89PNG")


def test_cross_needs_a_hedge_venue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cross", "--symbol", "BTC"]) == 2
    assert "--hedge-exchange" in capsys.readouterr().err
