"""The client beyond the guide: lost responses, retries, skew, streams, rounding, secrets."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from bot.clock import FakeClock
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import InvalidOrder, InvalidSymbol, RateLimitError
from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


async def _orders(control: Control, keys: KeyPair) -> list[dict[str, object]]:
    account = (await control.state())["accounts"].get(keys.api_key, {})
    return list(account.get("orders", []))


async def test_lost_response_places_exactly_one_order(
    api: BackpackAPI, control: Control, keys: KeyPair
) -> None:
    await control.post("fault", {"kind": "lost_response", "count": 1, "path": "/api/v1/order"})
    order = await api.place_order(symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET")
    assert order["status"] == "Filled"
    orders = await _orders(control, keys)
    assert len(orders) == 1 and orders[0]["clientId"] == order["clientId"]


async def test_gets_retry_on_5xx_and_429_but_orders_do_not(
    api: BackpackAPI, control: Control, keys: KeyPair
) -> None:
    await control.post("fault", {"kind": "http_error", "status": 503, "count": 2})
    assert await api.get_price(BTC) > 0
    await control.post("fault", {"kind": "rate_limit", "count": 1, "path": "/api/v1/order"})
    with pytest.raises(RateLimitError):
        await api.place_order(symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET")
    assert await _orders(control, keys) == []


async def test_signed_requests_work_on_a_skewed_clock(sim: Simulator, keys: KeyPair) -> None:
    skewed = FakeClock(time.time() - 120)  # two minutes slow: outside any window
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, clock=skewed
    ) as api:
        balances = await api.get_balances()
        assert any(b["asset"] == "USDC" for b in balances)
        assert abs(api.time_offset_ms - 120_000) < 2_000


async def test_prices_flow_again_after_drop_ws(api: BackpackAPI, control: Control) -> None:
    await api.start_ws_price_stream()
    await control.post("fault", {"kind": "drop_ws"})
    await asyncio.sleep(0.3)
    mark = time.monotonic()
    deadline = mark + 5
    while max(api.last_update.values(), default=0.0) <= mark:
        assert time.monotonic() < deadline, "no prices within 5 s of the drop"
        await asyncio.sleep(0.05)


async def test_local_order_book_matches_rest(api: BackpackAPI) -> None:
    book = await api.watch_order_book(BTC)
    await asyncio.sleep(1.0)
    assert book.synced
    rest = await api.get_orderbook(BTC)
    local_bid = max(book.bids)
    assert abs(local_bid - rest["bids"][0][0]) / local_bid < Decimal("0.01")


async def test_a_slow_callback_never_stalls_prices(api: BackpackAPI) -> None:
    seen: list[str] = []

    async def slow(symbol: str, price: Decimal) -> None:
        seen.append(symbol)
        await asyncio.sleep(10)

    api.register_price_callback(slow)
    await api.start_ws_price_stream()
    first = dict(api.last_update)
    await asyncio.sleep(1.0)
    assert seen and any(api.last_update[s] > first.get(s, 0) for s in api.last_update)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"quantity": "0.0000001"}, "rounds to 0"),
        ({"quantity": "abc"}, "must be a number"),
        ({"quantity": "-1"}, "positive"),
        ({"quantity": "100000"}, "maximum"),
        ({"quantity": "0.01", "side": "UP"}, "BUY or SELL"),
        ({"quantity": "0.01", "order_type": "STOP"}, "MARKET or LIMIT"),
        ({"quantity": "0.01", "order_type": "LIMIT"}, "needs both"),
    ],
)
async def test_bad_orders_never_reach_the_exchange(
    api: BackpackAPI, control: Control, keys: KeyPair, kwargs: dict[str, str], problem: str
) -> None:
    args = {"symbol": BTC, "side": "BUY", "order_type": "MARKET", **kwargs}
    with pytest.raises(InvalidOrder) as err:
        await api.place_order(**args)  # type: ignore[arg-type]
    assert problem in err.value.message
    assert await _orders(control, keys) == []


async def test_rounding_to_step_and_tick(api: BackpackAPI) -> None:
    price = await api.get_price(BTC)
    order = await api.place_order(
        symbol=BTC, side="BUY", quantity=0.0123456789, price=float(price) * 0.9, order_type="LIMIT"
    )
    market = await api.market(BTC)
    assert Decimal(order["quantity"]) % market.step_size == 0
    assert Decimal(order["price"]) % market.tick_size == 0
    assert Decimal(order["price"]) <= price * Decimal("0.9")


async def test_symbol_helpers(api: BackpackAPI) -> None:
    assert await api.resolve_symbol("btc") == BTC
    assert await api.resolve_symbol("sol_usdc") == "SOL_USDC"
    assert await api.resolve_symbol("kpepe") == "kPEPE_USDC_PERP"
    with pytest.raises(InvalidSymbol):
        await api.resolve_symbol("NOPE")


async def test_secret_is_never_logged(
    sim: Simulator, keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        await api.get_balances()
        with pytest.raises(InvalidOrder) as err:
            await api.place_order(symbol=BTC, side="BUY", quantity="x", order_type="MARKET")
        assert keys.api_secret not in repr(api) + str(err.value)
    assert keys.api_secret not in caplog.text
