"""Signed actions beyond the plain order path: API wallets, builder fees, sub-accounts, chains,
the other refusals, and the reads ccxt's other methods make. ccxt's class signs everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from ccxt.base.errors import ExchangeError, InsufficientFunds, InvalidOrder, OrderNotFound
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot.sim.hyperliquid import HyperliquidSimulator
from tests.conftest import control_headers

MAIN: LocalAccount = Account.from_key("0x" + "41" * 32)
AGENT: LocalAccount = Account.from_key("0x" + "42" * 32)
SUB: LocalAccount = Account.from_key("0x" + "43" * 32)
BTC = "BTC/USDC:USDC"
ETH = "ETH/USDC:USDC"
APPROVE_AGENT_TYPES = {
    "HyperliquidTransaction:ApproveAgent": [
        {"name": "hyperliquidChain", "type": "string"},
        {"name": "agentAddress", "type": "address"},
        {"name": "agentName", "type": "string"},
        {"name": "nonce", "type": "uint64"},
    ]
}


@pytest.fixture
async def sim() -> AsyncIterator[HyperliquidSimulator]:
    async with HyperliquidSimulator(seed=3, random_walk=False) as s:
        s.deposit(MAIN.address, 5_000)
        yield s


@pytest.fixture
async def clients(sim: HyperliquidSimulator) -> AsyncIterator[list[Any]]:
    made: list[Any] = []
    yield made
    for ex in made:
        await ex.close()


def client(sim: HyperliquidSimulator, made: list[Any], key: LocalAccount, **options: Any) -> Any:
    ex = ccxt_async.hyperliquid(
        {"walletAddress": MAIN.address, "privateKey": key.key.hex(), "enableRateLimit": False}
    )
    if options.get("testnet"):
        ex.set_sandbox_mode(True)
    ex.urls["api"] = {"public": sim.rest_url, "private": sim.rest_url}
    made.append(ex)
    return ex


async def approve_agent(ex: Any, agent: str) -> Any:
    nonce = ex.milliseconds()
    message = {
        "hyperliquidChain": "Mainnet",
        "agentAddress": agent,
        "agentName": "",
        "nonce": nonce,
    }
    signature = ex.sign_user_signed_action(APPROVE_AGENT_TYPES, message)
    action = {"type": "approveAgent", "signatureChainId": "0x66eee", **message}
    return await ex.privatePostExchange({"action": action, "nonce": nonce, "signature": signature})


async def ask(ex: Any, symbol: str = BTC) -> float:
    return float((await ex.fetch_order_book(symbol))["asks"][0][0])


async def test_approve_agent_action_lets_the_agent_trade(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    main, agent = client(sim, clients, MAIN), client(sim, clients, AGENT)
    await agent.load_markets()
    with pytest.raises(InvalidOrder, match="User or API Wallet"):
        await agent.create_order(
            BTC, "limit", "buy", 0.001, await ask(agent), {"timeInForce": "Ioc"}
        )
    # An API wallet cannot approve another one: it has no deposit of its own.
    with pytest.raises(
        ExchangeError,
        match=f"Must deposit before performing actions. User: {AGENT.address.lower()}",
    ):
        await approve_agent(agent, SUB.address)
    assert (await approve_agent(main, AGENT.address)) == {
        "status": "ok",
        "response": {"type": "default"},
    }
    order = await agent.create_order(
        BTC, "limit", "buy", 0.001, await ask(agent), {"timeInForce": "Ioc"}
    )
    assert order["filled"] == 0.001
    agents = await main.publicPostInfo({"type": "extraAgents", "user": MAIN.address})
    assert agents == [{"name": "", "address": AGENT.address.lower(), "validUntil": None}]
    # ccxt's builder-fee approval, signed by the API wallet, was refused as on the venue.
    assert agent.options["builderFee"] is False


async def test_main_key_approves_builder_fee_and_pays_it(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    main = client(sim, clients, MAIN)
    await main.load_markets()
    price = await ask(main)
    await main.create_order(BTC, "limit", "buy", 0.01, price, {"timeInForce": "Ioc"})
    assert main.options["approvedBuilderFee"] is True
    assert sim.venue.state.referrers == {MAIN.address.lower(): "CCXT1"}  # ccxt's setReferrer
    builder = "0x6530512A6c89C7cfCEbC3BA7fcD9aDa5f30827a6"
    query = {"type": "maxBuilderFee", "user": MAIN.address, "builder": builder}
    assert int(await main.publicPostInfo(query)) == 10  # tenths of a basis point
    (fill,) = await main.fetch_my_trades(BTC)
    notional = Decimal(str(price)) * Decimal("0.01")
    assert Decimal(fill["info"]["builderFee"]) == (notional * Decimal("0.0001")).quantize(
        Decimal("0.000001")
    )
    usdc = sim.engine.accounts[MAIN.address.lower()].balances["USDC"][0]
    assert usdc == Decimal(5000) - Decimal(fill["info"]["fee"]) - Decimal(
        fill["info"]["builderFee"]
    )


async def test_testnet_signature_is_not_a_mainnet_one(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    testnet = client(sim, clients, MAIN, testnet=True)
    await testnet.load_markets()
    with pytest.raises(InvalidOrder, match="User or API Wallet 0x"):
        await testnet.create_order(
            BTC, "limit", "buy", 0.001, await ask(testnet), {"timeInForce": "Ioc"}
        )


async def test_sub_account_trades_through_vault_address(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url, headers=control_headers(sim)) as http:
        for path, body in (
            ("/_sim/deposit", {"user": SUB.address, "amount": "1000"}),
            ("/_sim/subaccount", {"master": MAIN.address, "sub": SUB.address}),
            ("/_sim/agent", {"user": MAIN.address, "agent": AGENT.address}),
        ):
            assert (await http.post(path, json=body)).status_code == 200
    agent = client(sim, clients, AGENT)
    await agent.load_markets()
    price = await ask(agent, ETH)
    await agent.create_order(
        ETH, "limit", "buy", 0.01, price, {"timeInForce": "Ioc", "vaultAddress": SUB.address}
    )
    (position,) = await agent.fetch_positions([ETH], {"user": SUB.address})
    assert position["contracts"] == 0.01
    assert await agent.fetch_positions([ETH]) == []  # the master's own book is untouched


async def test_other_refusals(sim: HyperliquidSimulator, clients: list[Any]) -> None:
    main = client(sim, clients, MAIN)
    await main.load_markets()
    book = await main.fetch_order_book(BTC)
    bid, best_ask = book["bids"][0][0], book["asks"][0][0]
    bbo = rf"bbo was {int(bid)}\.0@{int(best_ask)}\.0\. asset=0"
    with pytest.raises(
        InvalidOrder, match="Post only order would have immediately matched, " + bbo
    ):
        await main.create_order(BTC, "limit", "buy", 0.001, best_ask, {"postOnly": True})
    with pytest.raises(InsufficientFunds, match=r"Insufficient margin to place order\. asset=0"):
        await main.create_order(BTC, "limit", "buy", 2, best_ask, {"timeInForce": "Ioc"})
    with pytest.raises(InvalidOrder, match="more than 80% away from the reference price"):
        await main.create_order(BTC, "limit", "sell", 0.001, int(bid * 0.1), {"timeInForce": "Ioc"})
    with pytest.raises(ExchangeError, match="Invalid leverage value"):
        await main.set_leverage(41, BTC)
    with pytest.raises(OrderNotFound):
        await main.fetch_order("12345", BTC)
    async with httpx.AsyncClient() as http:
        bad = await http.post(
            sim.rest_url + "/info", json={"type": "clearinghouseState", "user": "0x12"}
        )
    assert bad.status_code == 422 and bad.text.startswith("Failed to deserialize the JSON body")
    with pytest.raises(ExchangeError):  # a cloid must be 0x + 32 hex digits: 422 as well
        await main.create_order(BTC, "limit", "buy", 0.001, best_ask, {"clientOrderId": "12345"})


async def test_reads_of_other_methods(sim: HyperliquidSimulator, clients: list[Any]) -> None:
    main = client(sim, clients, MAIN)
    await main.load_markets()
    price = await ask(main)
    since = main.milliseconds()
    await main.create_order(BTC, "limit", "buy", 0.001, price, {"timeInForce": "Ioc"})
    with pytest.raises(InvalidOrder):  # an IOC that cannot fill is kept as iocCancelRejected
        await main.create_order(
            BTC, "limit", "buy", 0.001, int(price * 0.9), {"timeInForce": "Ioc"}
        )
    orders = await main.fetch_orders(BTC)
    assert sorted(o["status"] for o in orders) == ["closed", "rejected"]
    assert len(await main.fetch_my_trades(BTC, since)) == 1  # userFillsByTime
    candles = await main.fetch_ohlcv(BTC, "1h", limit=24)
    assert len(candles) >= 23 and all(c[2] >= c[3] for c in candles)
    hist = await main.fetch_funding_rate_history(BTC, limit=48)
    assert len(hist) >= 24
    mids = await main.publicPostInfo({"type": "allMids"})
    assert set(mids) >= {"BTC", "ETH"} and Decimal(mids["BTC"]) > 0
    tickers = await main.fetch_tickers([BTC, ETH])
    assert tickers[ETH]["bid"] < tickers[ETH]["ask"]
    assert (await main.fetch_status())["status"] == "ok"  # exchangeStatus
    assert abs(await main.fetch_time() - main.milliseconds()) < 5_000
    spot = await main.fetch_balance({"type": "spot"})
    assert spot["USDC"]["total"] == 0  # perps only: the spot wallet is empty
    unknown = await main.publicPostInfo({"type": "clearinghouseState", "user": SUB.address})
    assert unknown["marginSummary"]["accountValue"] == "0.0" and unknown["assetPositions"] == []
    assert SUB.address.lower() not in sim.engine.accounts  # reads never create a wallet


async def test_a_replayed_request_is_refused_by_its_nonce(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    main = client(sim, clients, MAIN)
    await main.load_markets()
    price = await ask(main)
    order = {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.001, "price": price}
    request = main.create_orders_request([{**order, "params": {"timeInForce": "Ioc"}}])
    first = await main.privatePostExchange(request)
    assert "filled" in first["response"]["data"]["statuses"][0]
    with pytest.raises(ExchangeError, match=f"Invalid nonce: duplicate nonce {request['nonce']}"):
        await main.privatePostExchange(request)
    assert len(sim.engine.accounts[MAIN.address.lower()].orders) == 1


async def test_stop_loss_and_take_profit_triggers(
    sim: HyperliquidSimulator, clients: list[Any]
) -> None:
    main = client(sim, clients, MAIN)
    await main.load_markets()
    entry = await ask(main, ETH)
    await main.create_order(ETH, "limit", "buy", 0.1, entry, {"timeInForce": "Ioc"})
    stop_px, take_px = int(entry * 0.95), int(entry * 1.05)
    stop = await main.create_order(
        ETH, "market", "sell", 0.1, stop_px, {"stopLossPrice": stop_px, "reduceOnly": True}
    )
    take = await main.create_order(
        ETH, "limit", "sell", 0.1, take_px, {"takeProfitPrice": take_px, "reduceOnly": True}
    )
    waiting = {o["id"]: o for o in await main.fetch_open_orders(ETH)}
    assert waiting[stop["id"]]["info"]["orderType"] == "Stop Market"
    assert waiting[stop["id"]]["info"]["triggerCondition"] == f"Price below {stop_px}.0"
    assert waiting[stop["id"]]["stopLossPrice"] == stop_px
    assert waiting[take["id"]]["info"]["orderType"] == "Take Profit Limit"
    assert waiting[take["id"]]["takeProfitPrice"] == take_px
    assert waiting[take["id"]]["amount"] == 0.1

    async with httpx.AsyncClient(headers=control_headers(sim)) as http:
        moved = await http.post(
            sim.rest_url + "/_sim/price", json={"symbol": "ETH", "price": str(stop_px - 10)}
        )
        assert moved.status_code == 200
    fired = await main.fetch_order(stop["id"], ETH)
    assert fired["status"] == "closed" and fired["filled"] == 0.1
    assert await main.fetch_positions([ETH]) == []
    # The take-profit lost its position: it is cancelled, as a reduce-only trigger is.
    assert (await main.fetch_order(take["id"], ETH))["status"] == "canceled"
    assert await main.fetch_open_orders(ETH) == []
