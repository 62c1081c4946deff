"""Binance USDⓈ-M's rules against ccxt's own ``binanceusdm`` class (requests recorded at the
HTTP call; markets from a small ``exchangeInfo`` in the venue's shape)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.port import VenueError
from tests.venues.rules.recorder import Recorder, Request

BTC = "BTC/USDT:USDT"
H = 3_600_000


def _symbol(base: str, tick: str, step: str, min_qty: str, notional: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "pair": f"{base}USDT",
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.10",
                "maxPrice": "4529764",
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "1000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": "120", "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": notional},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1733400000000,
    "futuresType": "U_MARGINED",
    "rateLimits": [],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [
        _symbol("BTC", "0.10", "0.001", "0.001", "100"),
        _symbol("ETH", "0.01", "0.001", "0.001", "20"),
    ],
}


def order_answer(r: Request) -> dict[str, Any]:
    f = r.form
    return {
        "orderId": 4242,
        "symbol": f["symbol"],
        "status": "FILLED",
        "clientOrderId": f["newClientOrderId"],
        "price": "0.00",
        "avgPrice": "97000.00",
        "origQty": f["quantity"],
        "executedQty": f["quantity"],
        "cumQuote": "1940.00",
        "timeInForce": "GTC",
        "type": "MARKET",
        "reduceOnly": f.get("reduceOnly") == "true",
        "side": f["side"],
        "updateTime": 1733400000000,
    }


def venue() -> tuple[CcxtVenue, Recorder]:
    ex = make_exchange("binanceusdm", json.dumps({"apiKey": "k" * 64, "secret": "s" * 64}), None)
    rec = Recorder(ex)
    rec.route("/fapi/v1/exchangeInfo", EXCHANGE_INFO)
    rec.route(lambda r: r.path.endswith("/fapi/v1/order") and r.method == "POST", order_answer)
    return CcxtVenue(ex), rec


async def test_client_id_goes_as_new_client_order_id() -> None:
    v, rec = venue()
    got = await v.place_order(BTC, "sell", D("0.02"), client_id=4294967295)
    (sent,) = rec.sent("/fapi/v1/order")
    assert sent.form["newClientOrderId"] == "4294967295"
    assert got.client_id == 4294967295 and got.status == "filled"


async def test_a_market_leg_is_a_market_order_without_price() -> None:
    v, rec = venue()
    await v.place_order(BTC, "buy", D("0.02"), client_id=1, reduce_only=True)
    form = rec.sent("/fapi/v1/order")[0].form
    assert (form["type"], form["side"], form["quantity"], form["reduceOnly"]) == (
        "MARKET",
        "BUY",
        "0.02",
        "true",
    )
    assert "price" not in form and "signature" in form


async def test_sizes_are_coins_to_the_lot_step_and_minimums_come_from_the_filters() -> None:
    v, rec = venue()
    m = (await v.markets())[BTC]
    assert (m.step, m.tick, m.min_quantity, m.min_notional) == (
        D("0.001"),
        D("0.1"),
        D("0.001"),
        D("100"),
    )
    await v.place_order(BTC, "sell", D("0.0219"), client_id=2)
    assert rec.sent("/fapi/v1/order")[0].form["quantity"] == "0.021"  # floored to the step
    with pytest.raises(VenueError, match=r"below the minimum 0\.001"):
        await v.place_order(BTC, "sell", D("0.0004"), client_id=3)
    assert len(rec.sent("/fapi/v1/order")) == 1


def premium_index(r: Request) -> dict[str, Any]:
    return {
        "symbol": r.query["symbol"],
        "markPrice": "97000.0",
        "indexPrice": "96990.0",
        "estimatedSettlePrice": "96995.0",
        "lastFundingRate": "0.00010000",
        "interestRate": "0.00010000",
        "nextFundingTime": NEXT,
        "time": NEXT - H,
    }


NEXT = 1733414400000


async def test_the_funding_interval_is_fundinginfos_or_the_spacing_of_settled_rates() -> None:
    v, rec = venue()
    rec.route("/fapi/v1/premiumIndex", premium_index)
    # fundingInfo lists only the symbols whose interval was changed from the default
    rec.route(
        "/fapi/v1/fundingInfo",
        [
            {
                "symbol": "BTCUSDT",
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": 4,
                "disclaimer": False,
            }
        ],
    )
    rec.route(
        "/fapi/v1/fundingRate",
        lambda r: [
            {
                "symbol": r.query["symbol"],
                "fundingTime": NEXT - 24 * H + i * 8 * H,
                "fundingRate": "0.0001",
                "markPrice": "3500",
            }
            for i in range(3)
        ],
    )
    btc, eth = await v.funding(BTC), await v.funding("ETH/USDT:USDT")
    assert (btc.rate, btc.interval_hours, btc.next_funding_ms) == (D("0.0001"), D(4), NEXT)
    assert eth.interval_hours == D(8)
