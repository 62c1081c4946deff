"""The face's answers have the fields and value types of the venue's recorded responses.

The key sets are those of the responses recorded in the venue's Python SDK tests
(``tests/cassettes/info_test/*.yaml``) and of the examples in ccxt's hyperliquid class; the
simulator may add fields the venue added since (``cloid``, ``tid``, ``feeToken`` …), never
drop one. Decimals are strings with at least one decimal place; times are integer ms.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from eth_account import Account

from bot.sim.hyperliquid import HyperliquidSimulator

MAIN = Account.from_key("0x" + "61" * 32)
DECIMAL = re.compile(r"^-?\d+\.\d+$")
SUMMARY = {"accountValue", "totalMarginUsed", "totalNtlPos", "totalRawUsd"}
POSITION = {
    "coin",
    "entryPx",
    "leverage",
    "liquidationPx",
    "marginUsed",
    "positionValue",
    "returnOnEquity",
    "szi",
    "unrealizedPnl",
    "cumFunding",
    "maxLeverage",
}
FRONTEND_ORDER = {
    "children",
    "coin",
    "isPositionTpsl",
    "isTrigger",
    "limitPx",
    "oid",
    "orderType",
    "origSz",
    "reduceOnly",
    "side",
    "sz",
    "tif",
    "timestamp",
    "triggerCondition",
    "triggerPx",
}
FILL = {
    "closedPnl",
    "coin",
    "crossed",
    "dir",
    "fee",
    "hash",
    "oid",
    "px",
    "side",
    "startPosition",
    "sz",
    "time",
}


@pytest.fixture
async def info() -> AsyncIterator[Any]:
    """An info client, after a filled IOC, a resting order and a funding settlement."""
    async with HyperliquidSimulator(seed=4, random_walk=False) as sim:
        sim.deposit(MAIN.address, 5_000)
        ex = ccxt_async.hyperliquid(
            {"walletAddress": MAIN.address, "privateKey": MAIN.key.hex(), "enableRateLimit": False}
        )
        ex.urls["api"] = {"public": sim.rest_url, "private": sim.rest_url}
        try:
            await ex.load_markets()
            book = await ex.fetch_order_book("ETH/USDC:USDC")
            params = {"timeInForce": "Ioc"}
            await ex.create_order("ETH/USDC:USDC", "limit", "buy", 0.1, book["asks"][0][0], params)
            await ex.create_order("ETH/USDC:USDC", "limit", "buy", 0.1, book["bids"][0][0] - 50)
            sim.venue.settle()
        finally:
            await ex.close()
        async with httpx.AsyncClient(base_url=sim.rest_url) as http:

            async def ask(kind: str, **body: Any) -> Any:
                r = await http.post("/info", json={"type": kind, **body})
                assert r.status_code == 200, r.text
                assert r.headers["content-type"].startswith("application/json")
                return r.json()

            yield ask


def decimals(row: dict[str, Any], *names: str) -> None:
    for name in names:
        assert isinstance(row[name], str) and DECIMAL.match(row[name]), (name, row[name])


async def test_market_shapes(info: Any) -> None:
    meta, ctxs = await info("metaAndAssetCtxs")
    assert {"szDecimals", "name", "maxLeverage"} <= set(meta["universe"][0])
    assert len(meta["universe"]) == len(ctxs)
    decimals(ctxs[0], "funding", "openInterest", "prevDayPx", "dayNtlVlm", "premium", "oraclePx")
    decimals(ctxs[0], "markPx", "midPx")
    assert len(ctxs[0]["impactPxs"]) == 2
    book = await info("l2Book", coin="ETH")
    assert set(book) == {"coin", "levels", "time"} and isinstance(book["time"], int)
    level = book["levels"][0][0]
    assert set(level) == {"n", "px", "sz"} and isinstance(level["n"], int)
    decimals(level, "px", "sz")
    (candle, *_) = await info(
        "candleSnapshot", req={"coin": "ETH", "interval": "1h", "startTime": 0}
    )
    assert set(candle) == {"T", "c", "h", "i", "l", "n", "o", "s", "t", "v"}
    assert candle["T"] == candle["t"] + 3_600_000 - 1
    (rate, *_) = await info("fundingHistory", coin="ETH", startTime=0)
    assert set(rate) == {"coin", "fundingRate", "premium", "time"}
    mids = await info("allMids")
    decimals(mids, "ETH", "BTC")


async def test_account_shapes(info: Any) -> None:
    state = await info("clearinghouseState", user=MAIN.address)
    assert SUMMARY == set(state["marginSummary"]) == set(state["crossMarginSummary"])
    decimals(state["marginSummary"], *SUMMARY)
    decimals(state, "withdrawable", "crossMaintenanceMarginUsed")
    (asset,) = state["assetPositions"]
    assert asset["type"] == "oneWay" and set(asset["position"]) >= POSITION
    position = asset["position"]
    decimals(position, "entryPx", "marginUsed", "positionValue", "szi", "unrealizedPnl")
    assert position["leverage"] == {"type": "cross", "value": 20}
    assert set(position["cumFunding"]) == {"allTime", "sinceOpen", "sinceChange"}

    (plain,) = await info("openOrders", user=MAIN.address)
    assert {"coin", "limitPx", "oid", "side", "sz", "timestamp"} <= set(plain)
    (front,) = await info("frontendOpenOrders", user=MAIN.address)
    assert set(front) >= FRONTEND_ORDER and front["triggerPx"] == "0.0"
    history = await info("historicalOrders", user=MAIN.address)
    assert [h["status"] for h in history] == ["open", "filled"]
    assert all(set(h["order"]) >= FRONTEND_ORDER for h in history)
    status = await info("orderStatus", user=MAIN.address, oid=front["oid"])
    assert status["status"] == "order" and set(status["order"]) == {
        "order",
        "status",
        "statusTimestamp",
    }
    assert await info("orderStatus", user=MAIN.address, oid=1) == {"status": "unknownOid"}

    (fill,) = await info("userFills", user=MAIN.address)
    assert set(fill) >= FILL and fill["side"] in ("B", "A")
    decimals(fill, "px", "sz", "fee", "closedPnl", "startPosition")
    (payment,) = await info("userFunding", user=MAIN.address, startTime=0)
    assert set(payment) == {"time", "hash", "delta"}
    assert set(payment["delta"]) == {"type", "coin", "usdc", "szi", "fundingRate", "nSamples"}
    spot = await info("spotClearinghouseState", user=MAIN.address)
    assert {"coin", "hold", "total"} <= set(spot["balances"][0])
