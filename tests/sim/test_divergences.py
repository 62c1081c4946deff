"""The divergences from the real exchange listed in issue 12 (items 2-16), one test each."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets

from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair
from tests.sim.wire import Wire

PERP = "SOL_USDC_PERP"


@pytest.fixture
async def wire(sim: Simulator, keys: KeyPair) -> AsyncIterator[Wire]:
    w = Wire(sim.rest_url, keys)
    yield w
    await w.close()


async def frames(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every frame that arrives within ``seconds``."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return out


def market(side: str, qty: str = "1", **extra: Any) -> dict[str, Any]:
    return {"symbol": PERP, "side": side, "orderType": "Market", "quantity": qty, **extra}


async def test_2_trades_are_newest_first_and_there_from_the_start(wire: Wire) -> None:
    rows = await wire.call("GET", "/api/v1/trades", {"symbol": "ETH_USDC_PERP", "limit": "20"})
    assert len(rows) == 20
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True)
    older = await wire.call(
        "GET", "/api/v1/trades/history", {"symbol": "ETH_USDC_PERP", "limit": "5", "offset": "5"}
    )
    # offset 5 counts from the newest trade; the walk keeps trading, so ids can only be newer
    assert len(older) == 5 and older[0]["id"] >= ids[5]
    assert [r["id"] for r in older] == sorted((r["id"] for r in older), reverse=True)


async def test_3_order_frames_carry_q_and_big_q(sim: Simulator, wire: Wire) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.orderUpdate"]))
        await asyncio.sleep(0.1)
        await wire.call(
            "POST",
            "/api/v1/order",
            {"symbol": PERP, "side": "Bid", "orderType": "Market", "quoteQuantity": "200"},
        )
        await wire.call("POST", "/api/v1/order", market("Ask"))
        got = [f["data"] for f in await frames(ws, 0.5)]
    assert got and all("Q" in d for d in got)
    accepted = [d for d in got if d["e"] == "orderAccepted"]
    assert len(accepted) == 2 and all("q" in d for d in accepted)
    assert Decimal(accepted[0]["Q"]) == 200 and Decimal(accepted[0]["q"]) > 0


async def test_4_balance_updates_are_sent(sim: Simulator, wire: Wire) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.balanceUpdate"]))
        await asyncio.sleep(0.1)
        await wire.call(
            "POST",
            "/api/v1/order",
            {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Market", "quantity": "1"},
        )
        got = {f["data"]["a"]: f["data"] for f in await frames(ws, 0.5)}
    assert set(got) == {"USDC", "SOL"}
    capital = await wire.call("GET", "/api/v1/capital")
    assert got["SOL"]["A"] == capital["SOL"]["available"]
    assert got["USDC"]["e"] == "balanceUpdate" and got["USDC"]["L"] == "0"


async def test_5_open_interest_is_streamed(sim: Simulator) -> None:
    sim.engine.open_interest_interval = 0.3  # the exchange's 60 s, shortened for the test
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [f"openInterest.{PERP}"]}))
        got = [f for f in await frames(ws, 1.5) if f.get("stream") == f"openInterest.{PERP}"]
    assert got and got[0]["data"]["e"] == "openInterest" and Decimal(got[0]["data"]["o"]) > 0


async def test_6_market_type_filter(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        perps = (await http.get("/api/v1/markets", params={"marketType": "PERP"})).json()
        assert perps and {m["marketType"] for m in perps} == {"PERP"}
        both = (await http.get("/api/v1/markets?marketType=PERP&marketType=SPOT")).json()
        assert {m["marketType"] for m in both} == {"PERP", "SPOT"}
        bad = await http.get("/api/v1/markets", params={"marketType": "perp"})
        assert bad.status_code == 400 and bad.text.startswith("failed to parse parameter")


async def test_7_one_second_klines(wire: Wire) -> None:
    now = int(time.time())
    rows = await wire.call(
        "GET",
        "/api/v1/klines",
        {"symbol": PERP, "interval": "1s", "startTime": str(now - 30), "endTime": str(now)},
    )
    assert 25 <= len(rows) <= 31
    assert all(r["start"] < r["end"] for r in rows)


async def test_8_contract_address_is_a_string(wire: Wire) -> None:
    for asset in await wire.call("GET", "/api/v1/assets"):
        for token in asset["tokens"]:
            assert isinstance(token["contractAddress"], str) and token["contractAddress"]


async def test_9_order_reply_fields(wire: Wire) -> None:
    plain = await wire.call("POST", "/api/v1/order", market("Bid", "2"))
    assert plain["reduceOnly"] is None
    assert Decimal(plain["quoteQuantity"]) >= Decimal(plain["executedQuoteQuantity"]) * Decimal(
        "0.99"
    )
    assert "slippageTolerance" not in plain and "slippageToleranceType" not in plain
    reduce = await wire.call(
        "POST",
        "/api/v1/order",
        market("Ask", reduceOnly=True, slippageTolerance="0.5", slippageToleranceType="Percent"),
    )
    assert reduce["reduceOnly"] is True
    assert reduce["slippageTolerance"] == "0.5" and reduce["slippageToleranceType"] == "Percent"
    mark = Decimal((await wire.call("GET", "/api/v1/markPrices", {"symbol": PERP}))[0]["markPrice"])
    price = str((mark * Decimal("0.9")).quantize(Decimal("0.01")))
    limit = await wire.call(
        "POST",
        "/api/v1/order",
        {"symbol": PERP, "side": "Bid", "orderType": "Limit", "quantity": "3", "price": price},
    )
    assert limit["reduceOnly"] is None and "quoteQuantity" not in limit
    rows = await wire.call("GET", "/wapi/v1/history/orders", {"orderId": limit["id"]})
    assert Decimal(rows[0]["quoteQuantity"]) == Decimal(price) * 3


async def test_10_11_margin_functions(sim: Simulator, wire: Wire) -> None:
    await wire.call("POST", "/api/v1/order", market("Bid", "2"))
    pos = (await wire.call("GET", "/api/v1/position"))[0]
    assert pos["imf"] == pos["imfFunction"]["base"]
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.positionUpdate"]))
        snap = (await frames(ws, 0.3))[0]["data"]
    # Decimal strings, as live frames carry them (the AsyncAPI document types them as numbers).
    assert isinstance(snap["i"], str) and snap["q"] == "2" and "e" not in snap
    assert Decimal(snap["f"]) == Decimal(pos["imf"])
    collateral = await wire.call("GET", "/api/v1/collateral")
    assert {c["imfFunction"]["type"] for c in collateral} == {"sqrt"}


async def test_12_order_counts(wire: Wire) -> None:
    mark = Decimal((await wire.call("GET", "/api/v1/markPrices", {"symbol": PERP}))[0]["markPrice"])
    assert (await wire.call("GET", "/api/v1/account"))["limitOrders"] == 0
    for f in ("0.9", "0.91"):
        price = str((mark * Decimal(f)).quantize(Decimal("0.01")))
        await wire.call(
            "POST",
            "/api/v1/order",
            {"symbol": PERP, "side": "Bid", "orderType": "Limit", "quantity": "1", "price": price},
        )
    trigger = str((mark * Decimal("1.1")).quantize(Decimal("0.01")))
    await wire.call(
        "POST",
        "/api/v1/order",
        {
            "symbol": PERP,
            "side": "Bid",
            "orderType": "Market",
            "triggerPrice": trigger,
            "triggerQuantity": "1",
        },
    )
    account = await wire.call("GET", "/api/v1/account")
    assert (account["limitOrders"], account["triggerOrders"]) == (2, 1)


async def test_13_settlement_and_position_history(wire: Wire, control: Control) -> None:
    await wire.call("POST", "/api/v1/order", market("Bid", "2"))
    await control.post("funding", {"symbol": PERP, "rate": "0.001"})
    await control.post("settle")
    await wire.call("POST", "/api/v1/order", market("Ask", "2"))
    sources = {r["source"] for r in await wire.call("GET", "/wapi/v1/history/settlement")}
    assert {"TradingFees", "FundingPayment"} <= sources
    funding = await wire.call("GET", "/wapi/v1/history/settlement", {"source": "FundingPayment"})
    assert len(funding) == 1 and Decimal(funding[0]["quantity"]) < 0
    closed = await wire.call("GET", "/wapi/v1/history/position", {"state": "Closed"})
    assert len(closed) == 1 and closed[0]["closedVolume"] == "2" and closed[0]["closedAt"]
    assert await wire.call("GET", "/api/v1/wallets")


async def test_14_numeric_signature_parts_are_a_parse_error(sim: Simulator, wire: Wire) -> None:
    frame = json.loads(wire.subscribe_frame(["account.orderUpdate"]))
    frame["signature"][2] = int(frame["signature"][2])
    frame["signature"][3] = int(frame["signature"][3])
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps(frame))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 2))
    assert reply["error"]["message"] == "Parse error"


async def test_15_manual_settlement_rows_are_on_the_hour(wire: Wire, control: Control) -> None:
    await wire.call("POST", "/api/v1/order", market("Bid", "1"))
    await control.post("settle")
    row = (await wire.call("GET", "/wapi/v1/history/funding"))[0]
    assert row["intervalEndTimestamp"].endswith(":00:00")
    rates = await wire.call("GET", "/api/v1/fundingRates", {"symbol": PERP})
    assert all(r["intervalEndTimestamp"].endswith(":00:00") for r in rates)


async def test_16_self_trade_prevention_allow_is_refused(wire: Wire) -> None:
    r = await wire.request("POST", "/api/v1/order", market("Bid", selfTradePrevention="Allow"))
    assert r.status_code == 400 and "SelfTradePrevention" in r.text
