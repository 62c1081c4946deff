"""Pricing and checking a leg from a book (pure, no network)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.exchange.markets import Market
from bot.services.orders.intent import CloseIntent, IntentError, OrderIntent, StopIntent
from bot.services.orders.quote import (
    LegPreview,
    Limits,
    MarketView,
    build_leg,
    decimals,
    drift,
    plain,
    quantity_for_notional,
    requote,
    slippage,
    walk,
)

D = Decimal

BTC = Market(
    symbol="BTC_USDC_PERP",
    base="BTC",
    quote="USDC",
    market_type="PERP",
    tick_size=D("0.1"),
    step_size=D("0.00001"),
    min_quantity=D("0.0001"),
    max_quantity=D(1000),
    min_price=D("0.1"),
    max_price=D(1_000_000),
    funding_interval_ms=3_600_000,
    open=True,
)
SOL_SPOT = replace(
    BTC,
    symbol="SOL_USDC",
    base="SOL",
    market_type="SPOT",
    tick_size=D("0.01"),
    step_size=D("0.01"),
    min_quantity=D("0.01"),
    funding_interval_ms=None,
)
LIMITS = Limits(max_notional=D(20000), max_limit_deviation=D("0.2"))


def view(market: Market = BTC, position: str = "0", available: str = "50000") -> MarketView:
    if market.base == "BTC":
        bids = [(D(99990), D("0.05")), (D(99980), D("0.1")), (D(99900), D(1))]
        asks = [(D(100010), D("0.05")), (D(100020), D("0.1")), (D(100100), D(1))]
    else:
        bids = [(D("179.99"), D(10)), (D("179.9"), D(100))]
        asks = [(D("180.01"), D(10)), (D("180.1"), D(100))]
    return MarketView(
        market=market,
        bids=bids,
        asks=asks,
        position=D(position),
        available=D(available),
        taker_fee=D("0.0005"),
        maker_fee=D("0.0002"),
        leverage=D(10),
    )


def leg(intent: OrderIntent | CloseIntent, v: MarketView | None = None) -> LegPreview:
    return build_leg(intent, v or view(), LIMITS)


def problem(intent: OrderIntent | CloseIntent, v: MarketView | None = None) -> str:
    with pytest.raises(IntentError) as info:
        leg(intent, v)
    return info.value.problem


def test_helpers() -> None:
    assert plain(D("1E+2")) == "100"
    assert plain(D("0.0100")) == "0.01"
    assert decimals(D("0.0100")) == 2
    assert decimals(D(100)) == 0
    asks = [(D(10), D(1)), (D(11), D(1))]
    assert walk(asks, D("1.5"), None, True) == (D("1.5"), D("15.5"))
    assert walk(asks, D("1.5"), D(10), True) == (D(1), D(10))
    assert quantity_for_notional(asks, D(21), True) == D(2)
    assert quantity_for_notional(asks, D(5), True) == D("0.5")
    assert slippage(D(101), D(100), True) == D("0.01")
    assert slippage(D(99), D(100), False) == D("0.01")
    assert drift(D(100), D("100.6")) == D("0.006")


def test_market_buy_walks_the_book() -> None:
    p = leg(OrderIntent("buy", "BTC", quantity=D("0.1")))
    # 0.05 @ 100010 + 0.05 @ 100020
    assert p.est_price == D(100015)
    assert p.mid == D(100000)
    assert p.slippage == D("0.00015")
    assert p.notional == D("10001.5") / 1
    assert p.fee == D("0.1") * D(100015) * D("0.0005")
    assert p.position_after == D("0.1")
    assert p.margin == D("0.1") * D(100015) / 10
    assert p.order_type == "MARKET"


def test_market_sell_reduces_and_frees_margin() -> None:
    p = leg(OrderIntent("sell", "BTC", quantity=D("0.05")), view(position="0.08"))
    assert p.est_price == D(99990)
    assert p.position_after == D("0.03")
    assert p.margin < 0


def test_notional_buy_rounds_down_to_step() -> None:
    p = leg(OrderIntent("buy", "BTC", notional=D(1000)))
    assert p.quantity == D("0.00999")
    assert p.asked == "1,000.00 USDC"
    assert p.notional <= D(1000)


def test_limit_that_rests() -> None:
    p = leg(OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(95000)))
    assert p.order_type == "LIMIT"
    assert p.taker_qty == 0
    assert p.est_price == D(95000)
    assert p.fee == D("0.01") * D(95000) * D("0.0002")
    assert any("rests on the book" in n for n in p.notes)


def test_limit_that_partly_crosses() -> None:
    p = leg(OrderIntent("buy", "BTC", quantity=D("0.1"), price=D(100010)))
    assert p.taker_qty == D("0.05")
    assert p.est_price == D(100010)


def test_close_full_and_partial() -> None:
    full = leg(CloseIntent("BTC"), view(position="-0.3"))
    assert (full.side, full.quantity, full.reduce_only) == ("buy", D("0.3"), True)
    assert full.position_after == 0
    half = leg(CloseIntent("BTC", D("0.5")), view(position="0.12345"))
    assert (half.side, half.quantity) == ("sell", D("0.06172"))


def test_close_ignores_the_notional_limit() -> None:
    big = leg(CloseIntent("BTC"), view(position="0.5"))
    assert big.notional > LIMITS.max_notional


@pytest.mark.parametrize(
    ("intent", "v", "text"),
    [
        (OrderIntent("buy", "BTC", quantity=D("0.000001")), None, "Too many decimals in the size"),
        (OrderIntent("buy", "BTC", quantity=D("0.00001")), None, "below the BTC_USDC_PERP minimum"),
        (OrderIntent("buy", "BTC", quantity=D(2000)), None, "above the BTC_USDC_PERP maximum"),
        (OrderIntent("buy", "BTC", notional=D(1)), None, "below the BTC_USDC_PERP minimum"),
        (OrderIntent("buy", "BTC", quantity=D("0.2")), None, "over the per-order limit"),
        (OrderIntent("buy", "BTC", notional=D(30000)), None, "over the per-order limit"),
        (
            OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(60000)),
            None,
            "40% below the market",
        ),
        (
            OrderIntent("sell", "BTC", quantity=D("0.01"), price=D(130000)),
            None,
            "30% above the market",
        ),
        (
            OrderIntent("buy", "BTC", quantity=D("0.01"), price=D("99000.05")),
            None,
            "Too many decimals in the price",
        ),
        (
            OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(100010), post_only=True),
            None,
            "would trade at once",
        ),
        (OrderIntent("buy", "BTC", quantity=D(5), price=D(90000)), None, "over the per-order"),
        (
            OrderIntent("sell", "BTC", quantity=D("0.01"), reduce_only=True),
            None,
            "no open position",
        ),
        (
            OrderIntent("sell", "BTC", quantity=D("0.01"), reduce_only=True),
            view(position="-1"),
            "same side",
        ),
        (
            OrderIntent("sell", "BTC", quantity=D("0.02"), reduce_only=True),
            view(position="0.01"),
            "more than your 0.01 BTC",
        ),
        (
            OrderIntent("buy", "BTC", quantity=D("0.05")),
            view(available="100"),
            "Not enough funds",
        ),
        (
            OrderIntent("sell", "SOL", quantity=D(1), reduce_only=True),
            view(SOL_SPOT, position="5"),
            "spot market",
        ),
        (OrderIntent("sell", "SOL", quantity=D(6)), view(SOL_SPOT, position="5"), "less than 6"),
        (CloseIntent("BTC"), None, "No open BTC position"),
        (CloseIntent("BTC", D("0.1")), view(position="0.0002"), "below the minimum size"),
        (CloseIntent("SOL"), view(SOL_SPOT, position="5"), "is spot"),
    ],
)
def test_rejections(intent: OrderIntent | CloseIntent, v: MarketView | None, text: str) -> None:
    assert text in problem(intent, v)


def test_market_order_past_the_visible_book_is_refused() -> None:
    big = Limits(max_notional=D(10**9))
    with pytest.raises(IntentError) as info:
        build_leg(OrderIntent("buy", "BTC", quantity=D(5)), view(), big)
    assert "sweep past" in info.value.problem


def test_requote_and_drift() -> None:
    p = leg(OrderIntent("buy", "BTC", quantity=D("0.01")))
    moved = view()
    moved = replace(moved, asks=[(a * D("1.01"), q) for a, q in moved.asks])
    new = requote(p, moved)
    assert drift(p.est_price, new) > D("0.005")
    assert drift(p.est_price, requote(p, view())) == 0


def test_json_round_trip() -> None:
    p = leg(OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(95000)))
    assert LegPreview.from_json(p.to_json()) == p


# ---------------------------------------------------------------- stops


def stop_view(position: str, liq: str | None = None) -> MarketView:
    return replace(
        view(position=position),
        entry_price=D(95000),
        mark_price=D(100000),
        liquidation_price=D(liq) if liq else None,
        stops=(("sl", "111"), ("tp", "222")),
    )


def test_a_long_stop_loss_is_a_reduce_only_sell_of_the_whole_position() -> None:
    leg = build_leg(StopIntent("sl", "BTC", trigger=D(90000)), stop_view("0.5"), LIMITS)
    assert (leg.side, leg.quantity, leg.reduce_only, leg.trigger_price) == (
        "sell",
        D("0.5"),
        True,
        D(90000),
    )
    assert leg.pnl_at_trigger is not None and leg.pnl_at_trigger < -2500  # (90k-95k)·0.5 - fee
    assert leg.replaces == ("111",)


def test_a_distance_is_measured_from_the_entry_on_the_protecting_side() -> None:
    short = stop_view("-0.5")
    sl = build_leg(StopIntent("sl", "BTC", distance=D("0.1")), short, LIMITS)
    assert sl.side == "buy" and sl.trigger_price == D(104500)
    tp = build_leg(StopIntent("tp", "BTC", distance=D("0.1")), short, LIMITS)
    assert tp.trigger_price == D(85500) and tp.pnl_at_trigger and tp.pnl_at_trigger > 0


@pytest.mark.parametrize(
    ("intent", "position", "liq", "problem"),
    [
        (StopIntent("sl", "BTC", trigger=D(101000)), "0.5", None, "below the mark"),
        (StopIntent("sl", "BTC", trigger=D(99000)), "-0.5", None, "above the mark"),
        (StopIntent("tp", "BTC", trigger=D(99000)), "0.5", None, "above the mark"),
        (StopIntent("tp", "BTC", trigger=D(101000)), "-0.5", None, "below the mark"),
        (StopIntent("sl", "BTC", trigger=D(80000)), "0.5", "85000", "liquidation"),
        (StopIntent("sl", "BTC", trigger=D(90000)), "0", None, "No open BTC position"),
        (StopIntent("sl", "BTC", trigger=D("90000.05")), "0.5", None, "decimals"),
    ],
)
def test_stops_that_cannot_protect_are_refused(
    intent: StopIntent, position: str, liq: str | None, problem: str
) -> None:
    with pytest.raises(IntentError) as err:
        build_leg(intent, stop_view(position, liq), LIMITS)
    assert problem in err.value.problem


def test_attached_stops_must_bracket_the_entry() -> None:
    leg = build_leg(
        OrderIntent("buy", "BTC", quantity=D("0.01"), stop_loss=D(90000), take_profit=D(110000)),
        view(),
        LIMITS,
    )
    assert (leg.stop_loss, leg.take_profit) == (D(90000), D(110000))
    assert LegPreview.from_json(leg.to_json()) == leg
    with pytest.raises(IntentError, match="below the entry"):
        build_leg(
            OrderIntent("buy", "BTC", quantity=D("0.01"), stop_loss=D(110000)), view(), LIMITS
        )
    with pytest.raises(IntentError, match="above the entry"):
        build_leg(
            OrderIntent("sell", "BTC", quantity=D("0.01"), stop_loss=D(90000)), view(), LIMITS
        )
