"""Exchange rules the simulator must get right: funding, reduce-only, depth sequencing."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import pytest
import websockets

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


@pytest.fixture
async def client(sim: Simulator, keys: KeyPair):  # type: ignore[no-untyped-def]
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        yield api


async def test_funding_settlement_moves_balances_by_rate_x_qty_x_mark(
    client: BackpackAPI, control: Control, keys: KeyPair
) -> None:
    await client.place_order(symbol=BTC, side="SELL", quantity="0.1", order_type="MARKET")
    await control.post("funding", {"symbol": BTC, "rate": "0.001"})
    before = (await control.account(keys.api_key))["balances"]["USDC"]
    mark = (await client.get_mark_prices(BTC))[0]["markPrice"]
    await control.post("settle")
    after = (await control.account(keys.api_key))["balances"]["USDC"]
    paid = Decimal(str(after["available"])) - Decimal(str(before["available"]))
    expected = Decimal("0.001") * Decimal("0.1") * mark  # the short receives
    assert abs(paid - expected) <= Decimal("0.01")
    history = await client.get_funding_payments(BTC)
    assert history and Decimal(str(history[0]["quantity"])) > 0
    pos = await client.get_position(BTC)
    assert pos is not None and Decimal(str(pos["fundingPaid"])) != 0


async def test_reduce_only_never_increases_or_flips(client: BackpackAPI) -> None:
    await client.place_order(symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET")
    with pytest.raises(BackpackError):
        await client.place_order(
            symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET", reduce_only=True
        )
    order = await client.place_order(
        symbol=BTC, side="SELL", quantity="0.05", order_type="MARKET", reduce_only=True
    )
    assert Decimal(order["executedQuantity"]) <= Decimal("0.01")
    assert await client.get_position(BTC) is None


async def test_depth_stream_continues_the_rest_snapshot(sim: Simulator) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [f"depth.{BTC}"]}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]
        async with BackpackAPI(None, None, sim.rest_url, sim.ws_url, logging.getLogger()) as api:
            snap = await api._get("/api/v1/depth", {"symbol": BTC})
        last = int(snap["lastUpdateId"])
        u = int(first["u"])
        deltas = [first]
        while u <= last:
            deltas.append(json.loads(await asyncio.wait_for(ws.recv(), 5))["data"])
            u = int(deltas[-1]["u"])
        following = [d for d in deltas if int(d["u"]) > last]
        assert int(following[0]["U"]) <= last + 1 <= int(following[0]["u"])
        nxt = json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]
        assert int(nxt["U"]) == int(following[-1]["u"]) + 1
