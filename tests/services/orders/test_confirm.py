"""The trading service against the simulator over HTTP and a real SQLite database."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.clock import FakeClock
from bot.exchange.client import BackpackAPI
from bot.services.access import Actor
from bot.services.orders.confirm import (
    LegStatus,
    Outcome,
    Status,
    TradingConfig,
    TradingService,
)
from bot.services.orders.intent import (
    CloseIntent,
    IntentError,
    MultiLeg,
    OrderIntent,
    parse_close,
    parse_order,
)
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.trading import TradingStore
from tests.conftest import control_headers
from tests.keys import KeyPair

D = Decimal
CHAT = -500
#: Two traders acting in an allowed group (the services check who acts, and where).
ALICE = Actor(1001, "trader", CHAT, "group", frozenset({CHAT}))
BOB = Actor(2002, "trader", CHAT, "group", frozenset({CHAT}))


async def sim_orders(sim: Simulator, keys: KeyPair) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sim.rest_url, headers=control_headers(sim)) as http:
        state = (await http.get("/_sim/state")).json()
    account = state["accounts"].get(keys.api_key)
    return list(account["orders"]) if account else []


async def sim_control(sim: Simulator, path: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url, headers=control_headers(sim)) as http:
        (await http.post(f"/_sim/{path}", json=body)).raise_for_status()


async def test_buy_preview_confirm_fills_exactly_one_order(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.01"))
    (leg,) = p.legs
    assert (leg.symbol, leg.side, leg.quantity, leg.order_type) == (
        "BTC_USDC_PERP",
        "buy",
        D("0.01"),
        "MARKET",
    )
    assert leg.est_price > leg.mid > 0
    assert leg.fee > 0
    assert leg.position_after == D("0.01")
    assert p.mode == "paper"
    assert await sim_orders(quiet_sim, keys) == []  # nothing is sent before the tap

    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.FILLED
    (res,) = out.results
    assert res.status is LegStatus.FILLED
    assert res.executed_quantity == D("0.01")
    assert res.avg_price is not None
    assert abs(res.avg_price - leg.est_price) / leg.est_price < D("0.001")
    orders = await sim_orders(quiet_sim, keys)
    assert len(orders) == 1
    assert orders[0]["clientId"] == res.client_id
    assert orders[0]["id"] == res.order_id

    journal = await trading.store.journal_for(p.token)
    assert [(j.status, j.order_id, j.user_id) for j in journal] == [
        ("filled", res.order_id, ALICE.user_id)
    ]
    again = await trading.confirm(ALICE, p.token)
    assert again.status is Status.USED
    assert len(await sim_orders(quiet_sim, keys)) == 1


async def test_concurrent_taps_place_one_order(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("sell", "ETH 0.5"))
    outs = await asyncio.gather(*(trading.confirm(ALICE, p.token) for _ in range(6)))
    assert sorted(o.status for o in outs) == sorted([Status.FILLED] + [Status.USED] * 5)
    assert len(await sim_orders(quiet_sim, keys)) == 1


async def test_two_bot_processes_on_one_database_place_one_order(
    trading: TradingService,
    api: BackpackAPI,
    db_url: str,
    clock: FakeClock,
    config: TradingConfig,
    quiet_sim: Simulator,
    keys: KeyPair,
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "SOL $200"))
    other_db = Database(db_url)
    try:
        other = TradingService(api, TradingStore(other_db), config, clock=clock)
        outs = await asyncio.gather(
            trading.confirm(ALICE, p.token),
            other.confirm(ALICE, p.token),
            other.confirm(ALICE, p.token),
            trading.confirm(ALICE, p.token),
        )
    finally:
        await other_db.close()
    assert [o.status for o in outs].count(Status.FILLED) == 1
    assert len(await sim_orders(quiet_sim, keys)) == 1


async def test_only_the_asker_can_confirm_or_cancel(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.001"))
    assert (await trading.confirm(BOB, p.token)).status is Status.NOT_YOURS
    assert (await trading.cancel(BOB, p.token)).status is Status.NOT_YOURS
    assert await sim_orders(quiet_sim, keys) == []
    assert (await trading.confirm(ALICE, p.token)).status is Status.FILLED


async def test_unknown_token(trading: TradingService) -> None:
    assert (await trading.confirm(ALICE, "no-such-token")).status is Status.NOT_FOUND


async def test_expired_confirmation_does_nothing(
    trading: TradingService, clock: FakeClock, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.001"))
    clock.advance(trading.config.confirm_ttl_seconds + 1)
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.EXPIRED
    assert out.chat_id == CHAT
    assert (await trading.confirm(ALICE, p.token)).status is Status.EXPIRED
    assert await sim_orders(quiet_sim, keys) == []


async def test_expiry_sweeper(trading: TradingService, clock: FakeClock) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.001"))
    await trading.attach_message(p.token, 77)
    keep = await trading.preview(ALICE, parse_order("buy", "BTC 0.002"))
    assert await trading.expire_due() == []
    clock.advance(trading.config.confirm_ttl_seconds)
    swept = await trading.expire_due()
    assert [(o.status, o.token, o.message_id) for o in swept] == [
        (Status.EXPIRED, p.token, 77),
        (Status.EXPIRED, keep.token, None),
    ]
    assert await trading.expire_due() == []


async def test_cancel(trading: TradingService, quiet_sim: Simulator, keys: KeyPair) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.001"))
    assert (await trading.cancel(ALICE, p.token)).status is Status.CANCELLED
    assert (await trading.confirm(ALICE, p.token)).status is Status.CANCELLED
    assert (await trading.cancel(ALICE, p.token)).status is Status.CANCELLED
    assert await sim_orders(quiet_sim, keys) == []


async def test_price_drift_shows_a_new_preview(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.01"))
    await sim_control(
        quiet_sim, "price", {"symbol": "BTC_USDC_PERP", "price": str(p.legs[0].mid * D("1.02"))}
    )
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.REQUOTED
    fresh = out.new_preview
    assert fresh is not None
    assert fresh.token != p.token
    assert fresh.replaces == p.token
    assert fresh.drift is not None and fresh.drift > D("0.015")
    assert fresh.legs[0].est_price > p.legs[0].est_price
    assert await sim_orders(quiet_sim, keys) == []
    assert (await trading.confirm(ALICE, p.token)).status is Status.USED
    assert (await trading.confirm(ALICE, fresh.token)).status is Status.FILLED
    assert len(await sim_orders(quiet_sim, keys)) == 1


async def test_small_moves_within_tolerance_trade(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.01"))
    await sim_control(
        quiet_sim, "price", {"symbol": "BTC_USDC_PERP", "price": str(p.legs[0].mid * D("1.002"))}
    )
    assert (await trading.confirm(ALICE, p.token)).status is Status.FILLED


async def test_restart_between_preview_and_tap(
    api: BackpackAPI,
    db_url: str,
    clock: FakeClock,
    config: TradingConfig,
    quiet_sim: Simulator,
    keys: KeyPair,
) -> None:
    first_db = Database(db_url)
    await first_db.start()
    p = await TradingService(api, TradingStore(first_db), config, clock=clock).preview(
        ALICE, parse_order("buy", "BTC 0.002")
    )
    await first_db.close()

    second_db = Database(db_url)
    await second_db.start()
    try:
        svc = TradingService(api, TradingStore(second_db), config, clock=clock)
        assert (await svc.confirm(ALICE, p.token)).status is Status.FILLED
        assert (await svc.confirm(ALICE, p.token)).status is Status.USED
    finally:
        await second_db.close()
    assert len(await sim_orders(quiet_sim, keys)) == 1


async def test_lost_response_is_settled_by_client_id(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    p = await trading.preview(ALICE, parse_order("buy", "BTC 0.003"))
    await sim_control(quiet_sim, "fault", {"kind": "lost_response", "count": 1})
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.FILLED, out
    orders = await sim_orders(quiet_sim, keys)
    assert len(orders) == 1
    assert orders[0]["clientId"] == out.results[0].client_id
    assert out.results[0].order_id == orders[0]["id"]


async def test_close_full_and_partial(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    with pytest.raises(IntentError) as info:
        await trading.preview(ALICE, parse_close("BTC"))
    assert "No open BTC position" in info.value.problem

    opened = await trading.preview(ALICE, parse_order("sell", "BTC 0.004"))
    assert (await trading.confirm(ALICE, opened.token)).status is Status.FILLED

    half = await trading.preview(ALICE, parse_close("BTC 50%"))
    (leg,) = half.legs
    assert (leg.side, leg.quantity, leg.reduce_only, leg.position_after) == (
        "buy",
        D("0.002"),
        True,
        D("-0.002"),
    )
    assert (await trading.confirm(ALICE, half.token)).status is Status.FILLED
    rest = await trading.preview(ALICE, CloseIntent("btc"))
    assert rest.legs[0].quantity == D("0.002")
    assert (await trading.confirm(ALICE, rest.token)).status is Status.FILLED
    assert await trading.exchange.get_position("BTC") is None
    orders = await sim_orders(quiet_sim, keys)
    assert [o["reduceOnly"] for o in orders] == [False, True, True]


async def test_stale_close_is_rejected_by_the_exchange_not_doubled(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    opened = await trading.preview(ALICE, parse_order("buy", "ETH 0.1"))
    await trading.confirm(ALICE, opened.token)
    first = await trading.preview(ALICE, parse_close("ETH"))
    second = await trading.preview(ALICE, parse_close("ETH"))
    assert (await trading.confirm(ALICE, first.token)).status is Status.FILLED
    out = await trading.confirm(ALICE, second.token)
    assert out.status is Status.REJECTED
    assert "reduce" in out.results[0].reason.lower()
    assert await trading.exchange.get_position("ETH") is None


async def test_bad_inputs_never_store_a_confirmation(trading: TradingService) -> None:
    cases = [
        (OrderIntent("buy", "NOPE", quantity=D(1)), "Unknown market 'NOPE'"),
        (parse_order("buy", "BTC 0.0000001"), "Too many decimals"),
        (parse_order("buy", "BTC 5"), "over the per-order limit"),
        (parse_order("buy", "BTC 0.01 @ 10000"), "below the market"),
        (parse_order("buy", "DOGE 0.5"), "Too many decimals"),
        (parse_order("buy", "SOL $0.01"), "below the SOL_USDC_PERP minimum"),
    ]
    for intent, text in cases:
        with pytest.raises(IntentError) as info:
            await trading.preview(ALICE, intent)
        assert text in info.value.problem, info.value.problem
        assert info.value.example
    assert await trading.store.journal() == []


async def test_limit_order_rests_and_is_placed(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    mid = (await trading.preview(ALICE, parse_order("buy", "BTC 0.001"))).legs[0].mid
    price = (mid * D("0.95")).quantize(D(1))
    p = await trading.preview(ALICE, parse_order("buy", f"BTC 0.01 @ {price} post"))
    assert p.legs[0].order_type == "LIMIT"
    assert p.legs[0].price == price
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.PLACED
    (order,) = await sim_orders(quiet_sim, keys)
    assert (order["status"], order["price"], order["postOnly"]) == ("New", str(price), True)


async def test_multi_leg_and_listener(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    heard: list[Outcome] = []

    async def listen(o: Outcome) -> None:
        heard.append(o)

    trading.listeners.append(listen)
    intent = MultiLeg(
        legs=(
            OrderIntent("buy", "SOL_USDC", quantity=D(1)),
            OrderIntent("sell", "SOL", quantity=D(1)),
        ),
        title="Funding hedge SOL",
        origin="strategy:approve:1",
    )
    p = await trading.preview(ALICE, intent)
    assert [leg.symbol for leg in p.legs] == ["SOL_USDC", "SOL_USDC_PERP"]
    assert p.origin == "strategy:approve:1"
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.FILLED
    assert out.origin == "strategy:approve:1"
    assert len(out.order_ids) == 2
    assert [o.token for o in heard] == [p.token]
    assert len(await sim_orders(quiet_sim, keys)) == 2


async def test_a_stop_is_journaled_with_its_trigger_and_recovered_by_client_id(
    trading: TradingService, quiet_sim: Simulator, keys: KeyPair
) -> None:
    from bot.services.orders.intent import StopIntent

    await trading.confirm(
        ALICE, (await trading.preview(ALICE, parse_order("buy", "BTC 0.01"))).token
    )
    mark = (await trading.exchange.get_mark_prices("BTC_USDC_PERP"))[0]["markPrice"]
    stop = (Decimal(str(mark)) * Decimal("0.9")).quantize(Decimal(1))
    p = await trading.preview(ALICE, StopIntent("sl", "BTC", trigger=stop))
    # The answer is lost: the clientId lookup finds the pending conditional order.
    await sim_control(quiet_sim, "fault", {"kind": "lost_response", "count": 1})
    out = await trading.confirm(ALICE, p.token)
    assert out.status is Status.PLACED, out
    (row,) = await trading.store.journal_for(p.token)
    assert row.trigger_price == stop and row.status == "placed"
    resolved = await trading.sender.resolve(row)  # what recovery does after a crash
    assert resolved.status is LegStatus.PLACED and resolved.order_id == out.results[0].order_id
