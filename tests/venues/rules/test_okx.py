"""OKX's rules against ccxt's own ``okx`` class (requests recorded at the HTTP call; markets
from a small SWAP ``instruments`` list in the venue's shape)."""

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
NOW = 1733414400000


def _instrument(base: str, ct_val: str, lot: str, tick: str) -> dict[str, Any]:
    return {
        "alias": "",
        "baseCcy": "",
        "category": "1",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": ct_val,
        "ctValCcy": base,
        "expTime": "",
        "instFamily": f"{base}-USDT",
        "instId": f"{base}-USDT-SWAP",
        "instType": "SWAP",
        "lever": "100",
        "listTime": "1611916828000",
        "lotSz": lot,
        "maxIcebergSz": "100000000.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": "100000000",
        "maxMktAmt": "",
        "maxMktSz": "12000",
        "maxStopSz": "12000",
        "maxTriggerSz": "100000000.0000000000000000",
        "maxTwapSz": "100000000.0000000000000000",
        "minSz": lot,
        "optType": "",
        "quoteCcy": "",
        "settleCcy": "USDT",
        "state": "live",
        "stk": "",
        "tickSz": tick,
        "uly": f"{base}-USDT",
    }


INSTRUMENTS = {
    "code": "0",
    "msg": "",
    "data": [_instrument("BTC", "0.01", "0.01", "0.1"), _instrument("ETH", "0.1", "0.01", "0.01")],
}


def order_answer(r: Request) -> dict[str, Any]:
    return {
        "code": "0",
        "msg": "",
        "data": [
            {
                "clOrdId": r.json[0]["clOrdId"] if isinstance(r.json, list) else r.json["clOrdId"],
                "ordId": "312269865356374016",
                "tag": "",
                "ts": "1733400000000",
                "sCode": "0",
                "sMsg": "Order placed",
            }
        ],
        "inTime": "1733400000000000",
        "outTime": "1733400000000100",
    }


def venue() -> tuple[CcxtVenue, Recorder]:
    creds = {"apiKey": "k" * 36, "secret": "s" * 32, "password": "p" * 10}
    ex = make_exchange("okx", json.dumps(creds), None)
    rec = Recorder(ex)
    rec.route("/api/v5/public/instruments", INSTRUMENTS)
    rec.route("/api/v5/trade/batch-orders", order_answer)
    return CcxtVenue(ex), rec


def sent(rec: Recorder) -> list[dict[str, Any]]:
    out = []
    for r in rec.sent("/api/v5/trade/batch-orders"):
        body = r.json
        out.append(body[0] if isinstance(body, list) else body)
    return out


async def test_client_id_goes_as_cl_ord_id() -> None:
    v, rec = venue()
    got = await v.place_order(BTC, "sell", D("0.02"), client_id=4294967295)
    assert sent(rec)[0]["clOrdId"] == "4294967295"
    assert got.client_id == 4294967295


async def test_a_market_leg_is_a_cross_margined_market_order_without_price() -> None:
    v, rec = venue()
    await v.place_order(BTC, "buy", D("0.02"), client_id=1, reduce_only=True)
    (body,) = sent(rec)
    assert (body["instId"], body["ordType"], body["side"], body["tdMode"]) == (
        "BTC-USDT-SWAP",
        "market",
        "buy",
        "cross",
    )
    assert body["reduceOnly"] is True and "px" not in body
    assert "OK-ACCESS-SIGN" in rec.sent("/api/v5/trade/batch-orders")[0].headers


async def test_sizes_go_out_in_contracts_and_come_back_in_coins() -> None:
    v, rec = venue()
    m = (await v.markets())[BTC]
    # 1 contract = 0.01 BTC; lot 0.01 contract → a step of 0.0001 BTC
    assert (m.step, m.min_quantity, m.tick) == (D("0.0001"), D("0.0001"), D("0.1"))
    got = await v.place_order(BTC, "sell", D("0.02345"), client_id=2)
    assert sent(rec)[0]["sz"] == "2.34"  # 0.0234 BTC = 2.34 contracts
    assert got.quantity == D("0.0234")
    eth = (await v.markets())["ETH/USDT:USDT"]
    assert eth.step == D("0.001")  # 0.01 contract × 0.1 ETH
    with pytest.raises(VenueError, match=r"below the minimum 0\.0001"):
        await v.place_order(BTC, "sell", D("0.00005"), client_id=3)
    assert len(sent(rec)) == 1


async def test_the_funding_interval_is_the_distance_to_the_next_funding_time() -> None:
    v, rec = venue()

    def rate(r: Request) -> dict[str, Any]:
        return {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "formulaType": "noRate",
                    "fundingRate": "0.0001",
                    "fundingTime": str(NOW),
                    "impactValue": "",
                    "instId": r.query["instId"],
                    "instType": "SWAP",
                    "interestRate": "",
                    "maxFundingRate": "0.00375",
                    "method": "current_period",
                    "minFundingRate": "-0.00375",
                    "nextFundingRate": "",
                    "nextFundingTime": str(NOW + 4 * H),
                    "premium": "0.0001",
                    "settFundingRate": "0.0001",
                    "settState": "settled",
                    "ts": str(NOW - H),
                }
            ],
        }

    rec.route("/api/v5/public/funding-rate", rate)
    quote = await v.funding(BTC)
    assert (quote.rate, quote.interval_hours) == (D("0.0001"), D(4))
    assert quote.next_funding_ms in (NOW, NOW + 4 * H)
