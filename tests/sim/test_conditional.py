"""Conditional orders: triggers on mark/last/index, exactly once, reduce-only, attached SL/TP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets

from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair
from tests.sim.wire import Wire

PERP = "SOL_USDC_PERP"
START = Decimal(180)  # SOL's starting price in the default markets


@pytest.fixture
async def still() -> AsyncIterator[Simulator]:
    """A simulator whose prices move only when a test moves them."""
    async with Simulator(seed=3, random_walk=False, tick_interval=0.05) as s:
        yield s


@pytest.fixture
async def wire(still: Simulator, keys: KeyPair) -> AsyncIterator[Wire]:
    w = Wire(still.rest_url, keys)
    yield w
    await w.close()


@pytest.fixture
async def ctl(still: Simulator) -> AsyncIterator[Control]:
    c = Control(still)
    yield c
    await c.close()


async def frames(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """The payloads of every frame that arrives within ``seconds``."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), left))["data"])
        except TimeoutError:
            break
    return out


async def place(wire: Wire, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = await wire.call("POST", "/api/v1/order", {"symbol": PERP, **body})
    return data


async def order(wire: Wire, order_id: str) -> dict[str, Any]:
    rows = await wire.call("GET", "/wapi/v1/history/orders", {"orderId": order_id})
    data: dict[str, Any] = rows[0]
    return data


async def position(wire: Wire) -> Decimal:
    rows = await wire.call("GET", "/api/v1/position", {})
    return Decimal(rows[0]["netQuantity"]) if rows else Decimal(0)


async def test_trigger_order_waits_then_fires_once(
    still: Simulator, wire: Wire, ctl: Control
) -> None:
    async with websockets.connect(still.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.orderUpdate"]))
        await asyncio.sleep(0.1)
        o = await place(
            wire, side="Bid", orderType="Market", triggerPrice="190", triggerQuantity="2"
        )
        assert o["status"] == "TriggerPending" and o["quantity"] == "0"
        assert (o["triggerPrice"], o["triggerQuantity"], o["triggerBy"]) == (
            "190",
            "2",
            "MarkPrice",
        )
        open_ = await wire.call("GET", "/api/v1/orders", {"symbol": PERP})
        assert [x["id"] for x in open_] == [o["id"]] and open_[0]["triggerPrice"] == "190"
        await ctl.post("price", {"symbol": PERP, "price": "185"})
        assert await position(wire) == 0
        for p in ("191", "185", "192"):  # crosses twice: fires once
            await ctl.post("price", {"symbol": PERP, "price": p})
        events = await frames(ws, 0.5)
    kinds = [e["e"] for e in events]
    assert kinds[:2] == ["orderAccepted", "triggerPlaced"] and kinds.count("triggerPlaced") == 1
    assert set(kinds[2:]) == {"orderFill"}
    assert events[0]["X"] == "TriggerPending" and events[0]["P"] == "190" and events[0]["Y"] == "2"
    assert all("Q" in e for e in events)  # real frames always carry it
    assert events[1]["X"] == "New" and events[1]["q"] == "2"
    assert await position(wire) == 2
    done = await order(wire, o["id"])
    assert done["status"] == "Filled" and done["executedQuantity"] == "2"
    assert await wire.call("GET", "/api/v1/orders", {}) == []


@pytest.mark.parametrize(
    ("trigger_by", "moved"),
    [("MarkPrice", "mark"), ("LastPrice", "last"), ("IndexPrice", "index")],
)
async def test_trigger_by_watches_its_own_price(
    still: Simulator, wire: Wire, trigger_by: str, moved: str
) -> None:
    ids = {}
    for by in ("MarkPrice", "LastPrice", "IndexPrice"):
        o = await place(
            wire,
            side="Bid",
            orderType="Market",
            triggerPrice="175",
            triggerQuantity="1",
            triggerBy=by,
        )
        ids[by] = o["id"]
    price = Decimal("174")  # one reference price only
    if moved == "mark":
        still.engine.mirror(PERP, mark=price)
    elif moved == "last":
        still.engine.mirror(PERP, last=price)
    else:
        still.engine.mirror(PERP, index=price)
    statuses = {by: (await order(wire, oid))["status"] for by, oid in ids.items()}
    assert statuses == {by: ("Filled" if by == trigger_by else "TriggerPending") for by in ids}


async def test_reduce_only_trigger_never_flips(still: Simulator, wire: Wire, ctl: Control) -> None:
    await place(wire, side="Bid", orderType="Market", quantity="2")
    stop = await place(
        wire,
        side="Ask",
        orderType="Market",
        triggerPrice="170",
        triggerQuantity="5",
        reduceOnly=True,
    )
    assert stop["reduceOnly"] is True
    await ctl.post("price", {"symbol": PERP, "price": "169"})
    assert await position(wire) == 0
    done = await order(wire, stop["id"])
    assert done["executedQuantity"] == "2"


async def test_percent_of_position(still: Simulator, wire: Wire, ctl: Control) -> None:
    await place(wire, side="Bid", orderType="Market", quantity="4")
    await place(
        wire,
        side="Ask",
        orderType="Market",
        triggerPrice="190",
        triggerQuantity="50%",
        reduceOnly=True,
    )
    await ctl.post("price", {"symbol": PERP, "price": "191"})
    assert await position(wire) == 2


async def test_attached_stop_loss_and_take_profit(
    still: Simulator, wire: Wire, ctl: Control
) -> None:
    entry = await place(
        wire,
        side="Bid",
        orderType="Market",
        quantity="3",
        stopLossTriggerPrice="170",
        takeProfitTriggerPrice="195",
        takeProfitLimitPrice="194",
    )
    assert entry["stopLossTriggerPrice"] == "170" and entry["takeProfitLimitPrice"] == "194"
    children = await wire.call("GET", "/api/v1/orders", {"symbol": PERP})
    by_price = {c["triggerPrice"]: c for c in children}
    assert set(by_price) == {"170", "195"}
    sl, tp = by_price["170"], by_price["195"]
    for c in (sl, tp):
        assert c["side"] == "Ask" and c["reduceOnly"] is True and c["relatedOrderId"] == entry["id"]
        assert c["status"] == "TriggerPending" and c["triggerQuantity"] == "3"
    assert sl["orderType"] == "Market" and tp["orderType"] == "Limit" and tp["price"] == "194"
    await ctl.post("price", {"symbol": PERP, "price": "196"})
    # the take-profit fired and rests at 194 below the market: it fills as the book allows
    for _ in range(50):
        if await position(wire) == 0:
            break
        await asyncio.sleep(0.05)
    assert await position(wire) == 0
    assert (await order(wire, tp["id"]))["status"] == "Filled"
    assert (await order(wire, sl["id"]))["status"] == "Cancelled"  # went with the position
    assert await wire.call("GET", "/api/v1/orders", {}) == []


async def test_closing_the_position_cancels_its_stops(wire: Wire) -> None:
    await place(wire, side="Ask", orderType="Market", quantity="1")
    stop = await place(
        wire,
        side="Bid",
        orderType="Market",
        triggerPrice="200",
        triggerQuantity="1",
        reduceOnly=True,
    )
    await place(wire, side="Bid", orderType="Market", quantity="1")
    assert (await order(wire, stop["id"]))["status"] == "Cancelled"


async def test_cancel_and_cancel_all_by_kind(wire: Wire) -> None:
    t1 = await place(wire, side="Bid", orderType="Market", triggerPrice="200", triggerQuantity="1")
    await place(wire, side="Bid", orderType="Market", triggerPrice="201", triggerQuantity="1")
    limit = await place(wire, side="Bid", orderType="Limit", quantity="1", price="170")
    cancelled = await wire.call("DELETE", "/api/v1/order", {"symbol": PERP, "orderId": t1["id"]})
    assert cancelled["status"] == "Cancelled"
    gone = await wire.call(
        "DELETE", "/api/v1/orders", {"symbol": PERP, "orderType": "ConditionalOrder"}
    )
    assert len(gone) == 1
    assert [o["id"] for o in await wire.call("GET", "/api/v1/orders", {})] == [limit["id"]]


async def test_limit_trigger_rests_after_firing(wire: Wire, ctl: Control) -> None:
    o = await place(
        wire,
        side="Bid",
        orderType="Limit",
        price="150",
        triggerPrice="175",
        triggerQuantity="1",
        triggerBy="LastPrice",
    )
    await ctl.post("price", {"symbol": PERP, "price": "174"})
    live = await wire.call("GET", "/api/v1/order", {"symbol": PERP, "orderId": o["id"]})
    assert live["status"] == "New" and live["quantity"] == "1" and live["triggeredAt"]


async def test_rejections(wire: Wire) -> None:
    r = await wire.request(
        "POST",
        "/api/v1/order",
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "triggerPrice": "1"},
    )
    assert r.status_code == 400
    assert (
        r.json()["message"] == "Must specify both `triggerPrice` and `triggerQuantity` or neither"
    )
    r = await wire.request(
        "POST",
        "/api/v1/order",
        {
            "symbol": PERP,
            "side": "Bid",
            "orderType": "Market",
            "triggerPrice": "190",
            "triggerQuantity": "1",
            "triggerBy": "Mark",
        },
    )
    assert r.status_code == 400


async def test_pending_triggers_survive_a_restart(tmp_path: Path, keys: KeyPair) -> None:
    state = tmp_path / "paper.json"
    async with Simulator(seed=3, random_walk=False, state_path=state) as sim:
        wire = Wire(sim.rest_url, keys)
        await wire.call(
            "POST",
            "/api/v1/order",
            {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "1"},
        )
        stop = await place(
            wire,
            side="Ask",
            orderType="Market",
            triggerPrice="170",
            triggerQuantity="1",
            reduceOnly=True,
        )
        await wire.close()
    async with Simulator(seed=3, random_walk=False, state_path=state) as sim:
        wire = Wire(sim.rest_url, keys)
        assert [o["id"] for o in await wire.call("GET", "/api/v1/orders", {})] == [stop["id"]]
        ctl = Control(sim)
        await ctl.post("price", {"symbol": PERP, "price": "169"})
        await ctl.close()
        assert await position(wire) == 0
        await wire.close()


async def test_the_random_walk_fires_triggers(sim: Simulator, keys: KeyPair) -> None:
    """Not only the control API: the simulator's own price moves fire conditional orders."""
    wire = Wire(sim.rest_url, keys)
    mark = Decimal((await wire.call("GET", "/api/v1/markPrices", {"symbol": PERP}))[0]["markPrice"])
    tick = Decimal("0.01")
    ids = []
    for price in (mark + tick, mark - tick):  # whichever way the walk goes, one is crossed
        o = await place(
            wire, side="Bid", orderType="Market", triggerPrice=str(price), triggerQuantity="1"
        )
        ids.append(o["id"])
    for _ in range(200):  # poll for up to ~10 s
        if len(await wire.call("GET", "/api/v1/orders", {})) < 2:
            break
        await asyncio.sleep(0.05)
    statuses = {(await order(wire, i))["status"] for i in ids}
    await wire.close()
    assert "Filled" in statuses


async def test_protection_follows_a_partly_filled_entry(
    still: Simulator, wire: Wire, ctl: Control
) -> None:
    """An entry that fills in parts: its stop is placed at the first fill, resized after."""
    book = await wire.call("GET", "/api/v1/depth", {"symbol": PERP})
    best_ask = Decimal(book["asks"][0][0])
    top = Decimal(book["asks"][0][1])
    qty = (top * 3).quantize(Decimal("0.01"))
    async with websockets.connect(still.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.orderUpdate"]))
        await asyncio.sleep(0.1)
        entry = await place(
            wire,
            side="Bid",
            orderType="Limit",
            price=str(best_ask),
            quantity=str(qty),
            stopLossTriggerPrice="150",
        )
        assert entry["status"] == "PartiallyFilled"
        stop = next(
            o
            for o in await wire.call("GET", "/api/v1/orders", {})
            if o["relatedOrderId"] == entry["id"]
        )
        assert stop["triggerQuantity"] == entry["executedQuantity"]
        await ctl.post("price", {"symbol": PERP, "price": str(best_ask - 2)})
        events = await frames(ws, 0.5)
    assert (await order(wire, entry["id"]))["status"] == "Filled"
    modified = [e for e in events if e["e"] == "orderModified"]
    assert modified and modified[-1]["i"] == stop["id"] and modified[-1]["Y"] == str(qty)


async def test_trigger_order_shaped_like_bpx_py_is_accepted_and_trigger_quantity_wins(
    wire: Wire, ctl: Control
) -> None:
    """bpx-py 2.0.11 and backpack-exchange-sdk send ``quantity`` with ``triggerQuantity`` (as
    Backpack accepts): the order waits, and when it fires its size is ``triggerQuantity``."""
    await place(wire, side="Bid", orderType="Market", quantity="3")
    bpx_py_body = {
        "orderType": "Market",
        "symbol": PERP,
        "side": "Ask",
        "timeInForce": "GTC",
        "selfTradePrevention": "RejectTaker",
        "quantity": "2",
        "triggerPrice": "170",
        "triggerQuantity": "1",
        "reduceOnly": True,
    }
    o: dict[str, Any] = await wire.call("POST", "/api/v1/order", bpx_py_body)
    assert o["status"] == "TriggerPending" and o["quantity"] == "0"
    assert (o["triggerPrice"], o["triggerQuantity"]) == ("170", "1")
    await ctl.post("price", {"symbol": PERP, "price": "169"})
    fired = await order(wire, o["id"])
    assert fired["status"] == "Filled" and Decimal(fired["executedQuantity"]) == 1
    assert await position(wire) == 2
    limit = await place(
        wire,
        side="Ask",
        orderType="Limit",
        timeInForce="GTC",
        quantity="0.5",
        price="160",
        triggerPrice="165",
        triggerQuantity="0.5",
    )
    assert limit["status"] == "TriggerPending" and limit["price"] == "160"
    refused = await wire.request(
        "POST",
        "/api/v1/order",
        {**bpx_py_body, "quantity": "abc"},
    )
    assert refused.status_code == 400  # the ignored quantity must still be a number
    quote = await wire.request("POST", "/api/v1/order", {**bpx_py_body, "quoteQuantity": "100"})
    assert quote.status_code == 400 and "quoteQuantity" in quote.json()["message"]
