"""Symbols matched by base asset and settlement."""

from __future__ import annotations

from decimal import Decimal as D

from bot.venues.pairs import match
from bot.venues.port import VenueMarket


def m(symbol: str, base: str, settle: str) -> VenueMarket:
    return VenueMarket(symbol, base, settle, settle, D("0.1"), D("0.001"), D(0), D(0), D(0))


PRIMARY = {
    s.symbol: s for s in (m("BTC_USDC_PERP", "BTC", "USDC"), m("ETH_USDC_PERP", "ETH", "USDC"))
}


def test_same_settlement_first_then_usdt_with_the_difference_shown() -> None:
    hedge = [m("BTC/USDT:USDT", "BTC", "USDT"), m("BTC/USDC:USDC", "BTC", "USDC")]
    hedge += [m("ETH/USDT:USDT", "ETH", "USDT"), m("DOGE/USDT:USDT", "DOGE", "USDT")]
    pairs = match(PRIMARY, {h.symbol: h for h in hedge})
    assert [(p.base, p.hedge.symbol, p.quote_note) for p in pairs] == [
        ("BTC", "BTC/USDC:USDC", None),
        ("ETH", "ETH/USDT:USDT", "USDC vs USDT"),
    ]


def test_allow_list_by_base_or_symbol_and_non_stable_settlement_skipped() -> None:
    hedge = [m("BTC/USD:BTC", "BTC", "BTC"), m("ETH/USDT:USDT", "ETH", "USDT")]
    hedge_map = {h.symbol: h for h in hedge}
    assert [p.base for p in match(PRIMARY, hedge_map)] == ["ETH"]  # inverse BTC is no hedge
    assert match(PRIMARY, hedge_map, allow=["btc"]) == []
    assert [p.base for p in match(PRIMARY, hedge_map, allow=["ETH/USDT:USDT"])] == ["ETH"]
