"""Conditional orders and attached SL/TP through the client, against the simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import (
    InvalidOrder,
    InvalidTrigger,
    ReduceOnlyRejected,
    error_from_response,
)
from tests.conftest import Control

BTC = "BTC_USDC_PERP"


async def _long(api: BackpackAPI, qty: str = "0.01") -> Decimal:
    await api.place_order(BTC, "BUY", qty, order_type="MARKET")
    pos = await api.get_position(BTC)
    assert pos is not None
    return Decimal(str(pos["markPrice"]))


async def test_stop_loss_is_placed_rounded_and_listed_with_its_trigger(api: BackpackAPI) -> None:
    mark = await _long(api)
    tick = (await api.market(BTC)).tick_size
    stop = mark * Decimal("0.9") + tick / 3  # off the tick: rounded to the nearest one
    order = await api.place_order(
        BTC,
        "SELL",
        order_type="MARKET",
        reduce_only=True,
        trigger_price=stop,
        trigger_quantity="0.01",
        trigger_by="MarkPrice",
    )
    assert order["status"] == "TriggerPending"
    assert order["triggerPrice"] % tick == 0
    assert abs(order["triggerPrice"] - stop) <= tick / 2
    (listed,) = [o for o in await api.get_open_orders(BTC) if o["id"] == order["id"]]
    assert listed["status"] == "TriggerPending"
    assert listed["triggerPrice"] == order["triggerPrice"]
    assert Decimal(str(listed["triggerQuantity"])) == Decimal("0.01")
    assert listed["reduceOnly"] is True
    found = await api.find_order_by_client_id(BTC, int(order["clientId"]))
    assert found is not None and found["status"] == "TriggerPending"


async def test_quantity_is_sent_as_the_trigger_quantity_and_percent_passes(
    api: BackpackAPI,
) -> None:
    mark = await _long(api)
    a = await api.place_order(
        BTC, "SELL", "0.01", order_type="MARKET", reduce_only=True, trigger_price=mark * 2
    )
    assert Decimal(str(a["triggerQuantity"])) == Decimal("0.01")
    b = await api.place_order(
        BTC,
        "SELL",
        order_type="MARKET",
        reduce_only=True,
        trigger_price=mark / 2,
        trigger_quantity="50%",
    )
    assert b["triggerQuantity"] == "50%"


async def test_a_stop_fires_on_a_price_move(api: BackpackAPI, control: Control) -> None:
    mark = await _long(api)
    stop = (mark * Decimal("0.95")).quantize(Decimal(1))
    order = await api.place_order(
        BTC, "SELL", "0.01", order_type="MARKET", reduce_only=True, trigger_price=stop
    )
    await control.post("price", {"symbol": BTC, "price": str(stop - 100)})
    status = await api.get_order_status(BTC, str(order["id"]))
    assert status["status"] == "Filled"
    assert await api.get_position(BTC) is None


async def test_attached_stop_loss_and_take_profit(api: BackpackAPI) -> None:
    price = await api.get_price(BTC)
    entry = await api.place_order(
        BTC,
        "BUY",
        "0.01",
        order_type="MARKET",
        stop_loss=price * Decimal("0.9"),
        take_profit=price * Decimal("1.1"),
    )
    assert entry["stopLossTriggerPrice"] is not None
    assert entry["takeProfitTriggerPrice"] is not None
    pending = [o for o in await api.get_open_orders(BTC) if o["status"] == "TriggerPending"]
    assert len(pending) == 2
    assert all(o["reduceOnly"] and o["side"] == "Ask" for o in pending)


async def test_trigger_rejections_are_typed(api: BackpackAPI) -> None:
    with pytest.raises(InvalidTrigger):
        await api.place_order(BTC, "SELL", order_type="MARKET", trigger_quantity="0.01")
    with pytest.raises(InvalidTrigger):
        await api.place_order(
            BTC, "SELL", "0.01", order_type="MARKET", trigger_price=1, trigger_by="Mid"
        )
    with pytest.raises(InvalidTrigger):
        await api.place_order("SOL_USDC", "BUY", "1", order_type="MARKET", stop_loss=1)
    # No position: the exchange refuses a reduce-only stop.
    with pytest.raises(ReduceOnlyRejected) as info:
        await api.place_order(
            BTC, "SELL", "0.01", order_type="MARKET", reduce_only=True, trigger_price=1000
        )
    assert isinstance(info.value, InvalidOrder)


def test_exchange_trigger_messages_map_to_typed_errors() -> None:
    body = (
        '{"code":"INVALID_CLIENT_REQUEST","message":'
        '"Must specify both `triggerPrice` and `triggerQuantity` or neither"}'
    )
    assert isinstance(error_from_response(400, body), InvalidTrigger)
    body = '{"code":"INVALID_QUANTITY","message":"Trigger quantity percentage must be 0-100"}'
    assert isinstance(error_from_response(400, body), InvalidTrigger)
    body = '{"code":"INVALID_ORDER","message":"Reduce only order would not reduce position"}'
    assert isinstance(error_from_response(400, body), ReduceOnlyRejected)
