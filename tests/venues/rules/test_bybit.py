"""Bybit's rules against ccxt's own ``bybit`` class (requests recorded at the HTTP call; markets
from a small linear ``instruments-info`` in the venue's shape)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.port import VenueError
from tests.venues.rules.recorder import Recorder, Request

BTC = "BTC/USDT:USDT"
NEXT = 1733414400000


def _instrument(base: str, interval_min: int, tick: str, step: str, min_qty: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": "USDT",
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": min_qty,
            "qtyStep": step,
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "500.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": interval_min,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
    }


INSTRUMENTS = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "linear",
        "list": [
            _instrument("BTC", 480, "0.10", "0.001", "0.001"),
            _instrument("ETH", 240, "0.01", "0.01", "0.01"),
        ],
        "nextPageCursor": "",
    },
    "retExtInfo": {},
    "time": 1733400000000,
}


def order_answer(r: Request) -> dict[str, Any]:
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"orderId": "1321003749386327552", "orderLinkId": r.json["orderLinkId"]},
        "retExtInfo": {},
        "time": 1733400000000,
    }


def venue() -> tuple[CcxtVenue, Recorder]:
    ex = make_exchange("bybit", json.dumps({"apiKey": "k" * 18, "secret": "s" * 36}), None)
    rec = Recorder(ex)
    rec.route("/v5/market/instruments-info", INSTRUMENTS)
    rec.route("/v5/order/create", order_answer)
    # ccxt asks once whether the key's account is unified (it decides the order endpoint)
    rec.route(
        "/v5/user/query-api",
        {
            "retCode": 0,
            "retMsg": "",
            "result": {"id": "1", "readOnly": 0, "unified": 0, "uta": 1, "isMaster": True},
            "retExtInfo": {},
            "time": 1733400000000,
        },
    )
    rec.route(
        "/v5/account/info",
        {
            "retCode": 0,
            "retMsg": "success",
            "result": {
                "marginMode": "REGULAR_MARGIN",
                "updatedTime": "1733400000000",
                "unifiedMarginStatus": 5,
                "dcpStatus": "OFF",
                "timeWindow": 10,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            },
            "retExtInfo": {},
            "time": 1733400000000,
        },
    )
    return CcxtVenue(ex), rec


def sent(rec: Recorder) -> list[dict[str, Any]]:
    return [r.json for r in rec.sent("/v5/order/create")]


async def test_client_id_goes_as_order_link_id() -> None:
    v, rec = venue()
    got = await v.place_order(BTC, "sell", D("0.02"), client_id=4294967295)
    assert sent(rec)[0]["orderLinkId"] == "4294967295"
    assert got.client_id == 4294967295


async def test_a_market_leg_is_a_market_order_without_price() -> None:
    v, rec = venue()
    await v.place_order(BTC, "buy", D("0.02"), client_id=1, reduce_only=True)
    (body,) = sent(rec)
    assert (body["category"], body["orderType"], body["side"], body["qty"]) == (
        "linear",
        "Market",
        "Buy",
        "0.02",
    )
    assert body["reduceOnly"] is True and "price" not in body
    assert "X-BAPI-SIGN" in rec.sent("/v5/order/create")[0].headers


async def test_sizes_are_coins_to_the_qty_step_and_minimums_come_from_the_lot_filter() -> None:
    v, rec = venue()
    m = (await v.markets())[BTC]
    assert (m.step, m.tick, m.min_quantity, m.min_notional) == (
        D("0.001"),
        D("0.1"),
        D("0.001"),
        D("5"),
    )
    await v.place_order(BTC, "sell", D("0.0219"), client_id=2)
    assert sent(rec)[0]["qty"] == "0.021"
    with pytest.raises(VenueError, match=r"below the minimum 0\.001"):
        await v.place_order(BTC, "sell", D("0.0004"), client_id=3)
    assert len(sent(rec)) == 1


async def test_the_funding_interval_is_the_instruments_own_in_minutes() -> None:
    v, rec = venue()

    def ticker(r: Request) -> dict[str, Any]:
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": {
                "category": "linear",
                "list": [
                    {
                        "symbol": r.query["symbol"],
                        "lastPrice": "97000.00",
                        "indexPrice": "96990.00",
                        "markPrice": "97000.00",
                        "fundingRate": "0.0001",
                        "nextFundingTime": str(NEXT),
                        "openInterest": "50000",
                        "openInterestValue": "4850000000",
                        "turnover24h": "1000000000",
                        "volume24h": "10000",
                        "bid1Price": "96999.9",
                        "ask1Price": "97000.0",
                    }
                ],
            },
            "retExtInfo": {},
            "time": 1733400000000,
        }

    rec.route("/v5/market/tickers", ticker)
    btc, eth = await v.funding(BTC), await v.funding("ETH/USDT:USDT")
    assert (btc.rate, btc.interval_hours, btc.next_funding_ms) == (D("0.0001"), D(8), NEXT)
    assert eth.interval_hours == D(4)
