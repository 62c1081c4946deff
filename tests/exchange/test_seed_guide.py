"""Every snippet of the user's guide (shared/seed), run as written against the simulator.

Translated only where the guide has a placeholder ("order_id_here") or a bare ``...``.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from bot.sim import Simulator
from funding_arbitrage_bot.exchanges.backpack_api import BackpackAPI
from tests.keys import KeyPair

logger = logging.getLogger("seed")


async def test_seed_guide_end_to_end(
    sim: Simulator, keys: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    # 初始化API客户端
    backpack_api = BackpackAPI(
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        base_url=sim.rest_url,
        ws_url=sim.ws_url,
        logger=logger,
    )
    try:
        await backpack_api.start_ws_price_stream()

        # 获取价格
        price = await backpack_api.get_price("BTC_USDC_PERP")
        print(f"比特币价格: {price}")
        assert isinstance(price, Decimal) and price > 0
        for _ in range(50):
            if backpack_api.prices.get("BTC_USDC_PERP"):
                break
            await asyncio.sleep(0.1)
        btc_price: Decimal | int | None = backpack_api.prices.get("BTC_USDC_PERP")
        assert isinstance(btc_price, Decimal)

        # 获取资金费率
        funding_rate = await backpack_api.get_funding_rate("BTC_USDC_PERP")
        print(f"比特币资金费率: {funding_rate}")
        assert isinstance(funding_rate, Decimal)
        all_funding_rates = await backpack_api.get_all_funding_rates()
        for symbol, rate in all_funding_rates.items():
            print(f"{symbol} 资金费率: {rate}")
        assert len(all_funding_rates) >= 10 and all(s.endswith("_PERP") for s in all_funding_rates)

        # 下单
        market_buy_order = await backpack_api.place_order(
            symbol="BTC_USDC_PERP", side="BUY", quantity=0.001, order_type="MARKET"
        )
        assert market_buy_order["status"] == "Filled"
        assert market_buy_order["executedQuantity"] == Decimal("0.001")
        eth = await backpack_api.get_price("ETH_USDC_PERP")
        limit_sell_order = await backpack_api.place_order(
            symbol="ETH_USDC_PERP",
            side="SELL",
            quantity=0.01,
            price=int(eth * Decimal("1.1")),  # the guide's 2000 is far from our market
            order_type="LIMIT",
        )
        assert limit_sell_order["status"] == "New"
        sol = await backpack_api.get_price("SOL_USDC_PERP")
        post_only_order = await backpack_api.place_order(
            symbol="SOL_USDC_PERP",
            side="BUY",
            quantity=1,
            price=int(sol * Decimal("0.9")),
            order_type="LIMIT",
            post_only=True,
        )
        assert post_only_order["postOnly"] is True
        reduce_only_order = await backpack_api.place_order(
            symbol="BTC_USDC_PERP",
            side="SELL",
            quantity=0.001,
            order_type="MARKET",
            reduce_only=True,
        )
        assert reduce_only_order["status"] == "Filled"

        # 使用深度数据下单
        order_with_depth = await backpack_api.place_order_with_depth(
            symbol="BTC_USDC_PERP",
            side="BUY",
            quantity=0.001,
            order_type="LIMIT",
            depth_tolerance=0.001,
        )
        assert order_with_depth["status"] in ("Filled", "New", "PartiallyFilled")

        # 查询订单状态 (the placeholder "order_id_here" becomes a real id)
        order_status = await backpack_api.get_order_status("BTC_USDC_PERP", market_buy_order["id"])
        print(f"订单状态: {order_status}")
        assert order_status["status"] == "Filled"
        open_orders = await backpack_api.get_open_orders()
        for order in open_orders:
            print(f"订单ID: {order['orderId']}, 交易对: {order['symbol']}, 类型: {order['type']}")
        assert {o["orderId"] for o in open_orders} >= {
            limit_sell_order["id"],
            post_only_order["id"],
        }

        # 取消订单
        cancel_result = await backpack_api.cancel_order("ETH_USDC_PERP", limit_sell_order["id"])
        assert cancel_result["status"] == "Cancelled"
        cancel_all_result = await backpack_api.cancel_all_orders("BTC_USDC_PERP")
        assert isinstance(cancel_all_result, list)
        cancel_all_result = await backpack_api.cancel_all_orders()
        assert post_only_order["id"] in {o["id"] for o in cancel_all_result}
        assert await backpack_api.get_open_orders() == []

        # 查询持仓 (start flat: the depth order above may have filled)
        leftover = await backpack_api.get_position("BTC_USDC_PERP")
        if leftover:
            await backpack_api.place_order(
                symbol="BTC_USDC_PERP",
                side="SELL" if leftover["quantity"] > 0 else "BUY",
                quantity=abs(leftover["quantity"]),
                order_type="MARKET",
                reduce_only=True,
            )
        await backpack_api.place_order(
            symbol="BTC_USDC_PERP", side="BUY", quantity="0.004", order_type="MARKET"
        )
        btc_position = await backpack_api.get_position("BTC_USDC_PERP")
        if btc_position:
            print(
                f"方向: {'多' if btc_position['quantity'] > 0 else '空'}, "
                f"数量: {abs(btc_position['quantity'])}"
            )
            print(
                f"入场价: {btc_position['entryPrice']}, 未实现盈亏: {btc_position['unrealizedProfit']}"
            )
        assert btc_position is not None and btc_position["quantity"] == Decimal("0.004")
        all_positions = await backpack_api.get_positions()
        for position in all_positions:
            if float(position["quantity"]) != 0:
                print(
                    f"{position['symbol']} - 方向: {'多' if float(position['quantity']) > 0 else '空'}, "
                    f"数量: {abs(float(position['quantity']))}"
                )

        # 部分平仓 then 全部平仓 (the guide's float arithmetic is accepted and rounded to the step)
        partial_close = await backpack_api.place_order(
            symbol="BTC_USDC_PERP",
            side="SELL" if float(btc_position["quantity"]) > 0 else "BUY",
            quantity=abs(float(btc_position["quantity"])) / 2,
            order_type="MARKET",
            reduce_only=True,
        )
        assert partial_close["executedQuantity"] == Decimal("0.002")
        btc_position = await backpack_api.get_position("BTC_USDC_PERP")
        assert btc_position is not None
        if float(btc_position["quantity"]) > 0:
            close_result = await backpack_api.place_order(
                symbol="BTC_USDC_PERP",
                side="SELL",
                quantity=abs(float(btc_position["quantity"])),
                order_type="MARKET",
                reduce_only=True,
            )
        else:
            close_result = await backpack_api.place_order(
                symbol="BTC_USDC_PERP",
                side="BUY",
                quantity=abs(float(btc_position["quantity"])),
                order_type="MARKET",
                reduce_only=True,
            )
        assert close_result["status"] == "Filled"
        assert await backpack_api.get_position("BTC_USDC_PERP") is None

        # 订单簿
        orderbook = await backpack_api.get_orderbook("BTC_USDC_PERP")
        if orderbook:
            best_bid = orderbook["bids"][0] if orderbook["bids"] else None
            best_ask = orderbook["asks"][0] if orderbook["asks"] else None
            if best_bid:
                print(f"最优买价: {best_bid[0]}, 数量: {best_bid[1]}")
            if best_ask:
                print(f"最优卖价: {best_ask[0]}, 数量: {best_ask[1]}")
            bid_volume = sum(float(bid[1]) for bid in orderbook["bids"][:5])
            ask_volume = sum(float(ask[1]) for ask in orderbook["asks"][:5])
            print(f"买单总量(前5档): {bid_volume}")
            print(f"卖单总量(前5档): {ask_volume}")
        assert orderbook["bids"][0][0] == max(b[0] for b in orderbook["bids"])
        assert orderbook["asks"][0][0] == min(a[0] for a in orderbook["asks"])
        assert orderbook["bids"][0][0] < orderbook["asks"][0][0]

        # 账户信息
        balances = await backpack_api.get_balances()
        for balance in balances:
            print(
                f"{balance['asset']} 可用余额: {balance['available']}, 冻结余额: {balance['locked']}"
            )
        assert any(b["asset"] == "USDC" for b in balances)
        account_info = await backpack_api.get_account_info()
        print(f"账户状态: {account_info['status']}")
        print(f"手续费等级: {account_info['commissionTier']}")
        assert account_info["status"] == "Active"

        # WebSocket订阅 + 回调
        btc_price = backpack_api.prices.get("BTC_USDC_PERP", 0)
        assert btc_price
        seen: list[tuple[str, Decimal]] = []

        async def price_callback(symbol: str, price: Decimal) -> None:
            seen.append((symbol, price))

        backpack_api.register_price_callback(price_callback)
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.1)
        assert seen and isinstance(seen[0][1], Decimal)

        # 错误处理: the "code" check and the broad except both behave
        try:
            result = await backpack_api.place_order(
                symbol="BTC_USDC_PERP", side="BUY", quantity=0.001, order_type="MARKET"
            )
            if "code" in result and result["code"] != 0:
                print(f"操作失败: {result['msg']}")
            else:
                print("操作成功!")
        except Exception as e:
            print(f"发生异常: {e}")
        try:
            await backpack_api.place_order(
                symbol="BTC_USDC_PERP", side="BUY", quantity=0.0000001, order_type="MARKET"
            )
        except Exception as e:
            print(f"发生异常: {e}")

        # 简单套利策略示例
        btc_funding_rate = await backpack_api.get_funding_rate("BTC_USDC_PERP")
        assert btc_funding_rate < Decimal("0.0001")  # the simulator's calm default
    finally:
        await backpack_api.close()
    out = capsys.readouterr().out
    assert "操作成功!" in out
    assert "发生异常: INVALID_QUANTITY: quantity 0.0000001 rounds to 0 with step 0.00001" in out
    assert "手续费等级: Tier 1" in out


async def test_seed_strategy_example(sim: Simulator, keys: KeyPair) -> None:
    backpack_api = BackpackAPI(keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logger)
    async with backpack_api:
        async with __import__("httpx").AsyncClient(
            base_url=sim.rest_url, headers={"X-Sim-Token": sim.control_token}
        ) as ctl:
            await ctl.post("/_sim/funding", json={"symbol": "BTC_USDC_PERP", "rate": "0.0005"})
        btc_funding_rate = await backpack_api.get_funding_rate("BTC_USDC_PERP")
        if btc_funding_rate > 0.0001:
            order = await backpack_api.place_order(
                symbol="BTC_USDC_PERP", side="SELL", quantity=0.001, order_type="MARKET"
            )
        elif btc_funding_rate < -0.0001:
            order = await backpack_api.place_order(
                symbol="BTC_USDC_PERP", side="BUY", quantity=0.001, order_type="MARKET"
            )
        else:
            raise AssertionError("rate was set above the threshold")
        assert order["side"] == "Ask"
        pos = await backpack_api.get_position("BTC_USDC_PERP")
        assert pos is not None and pos["quantity"] == Decimal("-0.001")
