"""Normalisation and the edge arithmetic, with every number worked out by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.venues.ccxt_venue import interval_hours_from_field, interval_hours_from_text
from bot.venues.port import FundingQuote, OrderBook, VenueMarket
from bot.venues.spread import (
    Leg,
    apr,
    common_quantity,
    edge,
    payments_within,
    per_hour,
    walk,
)

HOUR = 3_600_000


def market(
    symbol: str, step: str, fee: str, min_qty: str = "0", min_notional: str = "0"
) -> VenueMarket:
    return VenueMarket(
        symbol=symbol,
        base="BTC",
        quote="USDC",
        settle="USDC",
        tick=D("0.1"),
        step=D(step),
        min_quantity=D(min_qty),
        min_notional=D(min_notional),
        taker_fee=D(fee),
    )


def test_per_hour_and_apr_from_each_interval() -> None:
    assert per_hour(D("0.0008"), D(8)) == D("0.0001")
    assert per_hour(D("0.0001"), D(1)) == D("0.0001")
    assert apr(D("0.0001"), D(1)) == D("0.8760")
    assert apr(D("0.0008"), D(8)) == D("0.876")  # same money per hour, same APR
    assert per_hour(D("-0.0004"), D(4)) == D("-0.0001")
    with pytest.raises(ValueError):
        per_hour(D("0.0001"), D(0))


def test_payments_within_the_horizon() -> None:
    assert payments_within(0, HOUR // 2, D(1), D(24)) == 24  # 0.5 h, 1.5 h, ... 23.5 h
    assert payments_within(0, 2 * HOUR, D(8), D(24)) == 3  # 2 h, 10 h, 18 h
    assert payments_within(0, 2 * HOUR, D(8), D(1)) == 0  # the first is after the horizon
    assert payments_within(0, None, D(8), D(24)) == 3
    assert payments_within(5 * HOUR, 4 * HOUR, D(1), D(2)) == 3  # late clock: now, +1, +2


def test_interval_fields_in_each_unit() -> None:
    assert interval_hours_from_field(28_800_000) == 8  # Backpack: ms
    assert interval_hours_from_field("480") == 8  # Bybit: minutes
    assert interval_hours_from_field(8) == 8  # hours
    assert interval_hours_from_field(None) is None
    assert interval_hours_from_text("8h") == 8
    assert interval_hours_from_text("30m") == D("0.5")
    assert interval_hours_from_text("soon") is None


def test_walk_the_book() -> None:
    levels = [(D(101), D(1)), (D(102), D(10))]
    assert walk(levels, D(1)) == D(101)
    assert walk(levels, D(2)) == D("101.5")
    assert walk(levels, D(12)) is None


def test_common_quantity_uses_the_coarser_step_and_both_minimums() -> None:
    a, b = market("A", "0.001", "0"), market("B", "0.01", "0")
    assert common_quantity(a, b, D(1000), D(300)) == D("3.33")
    assert common_quantity(a, market("B", "0.01", "0", min_qty="5"), D(1000), D(300)) is None
    big_notional = market("B", "0.01", "0", min_notional="1001")
    assert common_quantity(a, big_notional, D(1000), D(300)) is None


def legs() -> tuple[Leg, Leg]:
    a = Leg(
        "backpack",
        market("BTC_USDC_PERP", "0.1", "0.0005"),
        FundingQuote("BTC_USDC_PERP", D("0.00005"), D(1), HOUR // 2, D(100)),
        OrderBook(
            "BTC_USDC_PERP", ((D(100), D(1)), (D(99), D(10))), ((D(101), D(1)), (D(102), D(10)))
        ),
    )
    b = Leg(
        "hedge",
        market("BTC/USDC:USDC", "1", "0.001"),
        FundingQuote("BTC/USDC:USDC", D("0.0008"), D(8), 2 * HOUR, D(102)),
        OrderBook("BTC/USDC:USDC", ((D(100), D(5)),), ((D(101), D(5)),)),
    )
    return a, b


def test_edge_by_hand() -> None:
    a, b = legs()
    e = edge("BTC", a, b, notional=D(201), horizon_hours=D(24), now_ms=0)
    # 0.0008 per 8 h = 0.0001/h beats 0.00005/h: short the hedge venue, long Backpack.
    assert e.short.venue == "hedge" and e.long.venue == "backpack"
    assert e.spread_per_hour == D("0.00005")
    assert e.spread_apr == D("0.438")
    assert e.quantity == 2  # 201 / mid 100.5, on the coarser step of 1
    # slippage in and out: 2 × (0.5 + 1 + 0.5 + 1)
    assert e.slippage == 6
    # fees: 2 × (100 + 101) × 0.001 + 2 × (101.5 + 99.5) × 0.0005
    assert e.fees == D("0.603")
    # funding: 3 payments of 0.0008 on 102 received, 24 of 0.00005 on 100 paid, × 2
    assert e.funding_income == D("0.2496")
    assert e.net == D("-6.3534")
    assert e.problem is None
    breakeven = e.breakeven_hours
    assert breakeven is not None and breakeven.quantize(D("0.01")) == D("657.01")
    assert edge("BTC", b, a, notional=D(201), horizon_hours=D(24), now_ms=0) == e


def test_edge_explains_why_there_is_no_trade() -> None:
    a, b = legs()
    small = edge("BTC", a, b, notional=D(50), horizon_hours=D(24), now_ms=0)
    assert small.problem == "the size is below a venue's minimum" and small.net == 0
    assert small.spread_per_hour == D("0.00005")  # the rates are still shown
    thin = edge("BTC", a, b, notional=D(1200), horizon_hours=D(24), now_ms=0)
    assert thin.problem == "a book is too thin for this size"
