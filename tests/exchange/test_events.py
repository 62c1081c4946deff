"""Stream frames → typed events (pure), on frames shaped like the exchange's."""

from __future__ import annotations

from decimal import Decimal

from bot.exchange.events import (
    AccountUpdate,
    BestBidAsk,
    MarkPrice,
    StreamError,
    Trade,
    parse_frame,
)


def test_frames_become_typed_events_with_decimals() -> None:
    assert parse_frame(
        {
            "stream": "ticker.BTC_USDC_PERP",
            "data": {"e": "ticker", "s": "BTC_USDC_PERP", "c": "97000.1"},
        }
    ) == Trade("BTC_USDC_PERP", Decimal("97000.1"))
    assert parse_frame(
        {
            "stream": "markPrice.BTC_USDC_PERP",
            "data": {"s": "BTC_USDC_PERP", "p": "97001", "f": "0.0001", "n": 1700000000000},
        }
    ) == MarkPrice("BTC_USDC_PERP", Decimal(97001), Decimal("0.0001"), 1700000000000)
    assert parse_frame(
        {"stream": "bookTicker.SOL_USDC", "data": {"s": "SOL_USDC", "b": "180.1", "a": "180.2"}}
    ) == BestBidAsk("SOL_USDC", Decimal("180.1"), Decimal("180.2"))
    event = parse_frame(
        {
            "stream": "account.orderUpdate",
            "data": {"e": "triggerPlaced", "s": "BTC_USDC_PERP", "i": "1", "P": "60000"},
        }
    )
    assert isinstance(event, AccountUpdate) and event.channel == "order"
    assert event.data["e"] == "triggerPlaced"
    assert parse_frame({"error": {"code": 4000, "message": "bad"}}) == StreamError(
        "{'code': 4000, 'message': 'bad'}"
    )
    assert parse_frame({"stream": "kline.1m.BTC_USDC_PERP", "data": {}}) is None


def test_live_and_documented_frame_types_both_parse() -> None:
    """bookTicker ``u`` a number (live) or a string (spec); positionUpdate decimals as strings
    (live) or JSON numbers (spec), ``i`` a string or a number: the same events either way."""
    for u in (1000123, "1000123"):
        assert parse_frame(
            {
                "stream": "bookTicker.SOL_USDC",
                "data": {"e": "bookTicker", "s": "SOL_USDC", "b": "180.1", "a": "180.2", "u": u},
            }
        ) == BestBidAsk("SOL_USDC", Decimal("180.1"), Decimal("180.2"))
    live = {"e": "positionAdjusted", "s": "BTC_USDC_PERP", "q": "-0.0103", "M": "100900.5"}
    spec = {"e": "positionAdjusted", "s": "BTC_USDC_PERP", "q": -0.0103, "M": 100900.5}
    events = [
        parse_frame({"stream": "account.positionUpdate", "data": {**d, "i": i, "P": "-1.5"}})
        for d, i in ((live, "5479295502"), (spec, 5479295502))
    ]
    for event in events:
        assert isinstance(event, AccountUpdate) and event.channel == "position"
        assert event.data["q"] == Decimal("-0.0103") and event.data["M"] == Decimal("100900.5")
        assert event.data["P"] == Decimal("-1.5") and event.data["i"] == "5479295502"
