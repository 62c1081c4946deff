"""ccxt's own ``hyperliquid`` class, unmodified, against the simulator's Hyperliquid face.

The main wallet has deposited; ccxt signs with an API wallet the main wallet approved (the
venue's API-wallet model), over real HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from ccxt.base.errors import ExchangeNotAvailable, InvalidOrder, NetworkError, OrderNotFound
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot.clock import FakeClock
from bot.sim.hyperliquid import HyperliquidSimulator
from tests.conftest import control_headers

MAIN: LocalAccount = Account.from_key("0x" + "11" * 32)
AGENT: LocalAccount = Account.from_key("0x" + "22" * 32)
STRANGER: LocalAccount = Account.from_key("0x" + "33" * 32)
BTC = "BTC/USDC:USDC"
CLOID = "0x" + "0123456789abcdef" * 2


@pytest.fixture
async def sim() -> AsyncIterator[HyperliquidSimulator]:
    async with HyperliquidSimulator(seed=7, random_walk=False, tick_interval=0.05) as s:
        s.deposit(MAIN.address, 10_000)
        s.approve_agent(MAIN.address, AGENT.address, "bot")
        yield s


def _client(sim: HyperliquidSimulator, key: LocalAccount, wallet: str = MAIN.address) -> Any:
    ex = ccxt_async.hyperliquid(
        {"walletAddress": wallet, "privateKey": key.key.hex(), "enableRateLimit": False}
    )
    ex.urls["api"] = {"public": sim.rest_url, "private": sim.rest_url}
    return ex


@pytest.fixture
async def hl(sim: HyperliquidSimulator) -> AsyncIterator[Any]:
    ex = _client(sim, AGENT)
    yield ex
    await ex.close()


async def _control(sim: HyperliquidSimulator, path: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(headers=control_headers(sim)) as client:
        r = await client.post(sim.rest_url + path, json=body)
        assert r.status_code == 200, r.text


async def test_markets_funding_book_balance(hl: Any, sim: HyperliquidSimulator) -> None:
    markets = await hl.load_markets()
    btc = markets[BTC]
    assert btc["swap"] and btc["id"] == "0" and btc["baseName"] == "BTC"
    assert btc["precision"]["amount"] == 0.00001  # szDecimals 5
    assert btc["limits"]["leverage"]["max"] == 40 and btc["limits"]["cost"]["min"] == 10

    await _control(sim, "/_sim/funding", {"symbol": "BTC", "rate": "0.0000321"})
    rates = await hl.fetch_funding_rates([BTC])
    assert rates[BTC]["fundingRate"] == pytest.approx(0.0000321)
    assert rates[BTC]["interval"] == "1h"
    assert rates[BTC]["markPrice"] == pytest.approx(97000, rel=0.01)

    book = await hl.fetch_order_book(BTC)
    assert 0 < book["bids"][0][0] < book["asks"][0][0]
    assert all(p == int(p) for p, _ in book["bids"] + book["asks"])  # whole-dollar BTC prices

    balance = await hl.fetch_balance()
    assert balance["USDC"]["total"] == 10_000 and balance["USDC"]["used"] == 0


async def test_ioc_with_cloid_fill_lookup_positions_trades(hl: Any) -> None:
    await hl.load_markets()
    await hl.set_leverage(5, BTC)
    ask = (await hl.fetch_order_book(BTC))["asks"][0][0]
    order = await hl.create_order(
        BTC, "limit", "buy", 0.002, ask, {"timeInForce": "Ioc", "clientOrderId": CLOID}
    )
    assert order["filled"] == 0.002 and order["average"] == ask

    fetched = await hl.fetch_order(None, BTC, {"clientOrderId": CLOID})
    assert fetched["id"] == order["id"] and fetched["clientOrderId"] == CLOID
    assert fetched["status"] == "closed" and fetched["timeInForce"] == "IOC"

    (position,) = await hl.fetch_positions([BTC])
    assert position["side"] == "long" and position["contracts"] == 0.002
    assert position["leverage"] == 5 and position["entryPrice"] == ask

    (trade,) = await hl.fetch_my_trades(BTC)
    assert trade["order"] == order["id"] and trade["side"] == "buy"
    assert trade["info"]["dir"] == "Open Long" and trade["info"]["cloid"] == CLOID
    assert trade["takerOrMaker"] == "taker"
    assert trade["fee"]["cost"] == pytest.approx(
        ask * 0.002 * 0.00045, abs=1e-6
    )  # the venue's taker fee


async def test_resting_order_open_orders_cancel_by_cloid(hl: Any) -> None:
    await hl.load_markets()
    bid = (await hl.fetch_order_book(BTC))["bids"][0][0]
    price = int(bid * 0.98)
    await hl.create_order(BTC, "limit", "buy", 0.001, price, {"clientOrderId": CLOID})
    (open_order,) = await hl.fetch_open_orders(BTC)
    assert open_order["clientOrderId"] == CLOID and open_order["price"] == price
    assert open_order["status"] == "open" and open_order["remaining"] == 0.001
    (plain,) = await hl.fetch_open_orders(BTC, params={"method": "openOrders"})
    assert plain["id"] == open_order["id"] and plain["info"]["cloid"] == CLOID

    result = await hl.cancel_order(None, BTC, {"clientOrderId": CLOID})
    assert result["status"] == "success"
    assert await hl.fetch_open_orders(BTC) == []
    assert (await hl.fetch_order(None, BTC, {"clientOrderId": CLOID}))["status"] == "canceled"
    with pytest.raises(OrderNotFound, match="never placed, already canceled, or filled"):
        await hl.cancel_order(None, BTC, {"clientOrderId": CLOID})


async def test_funding_history_after_settle(hl: Any, sim: HyperliquidSimulator) -> None:
    await hl.load_markets()
    ask = (await hl.fetch_order_book(BTC))["asks"][0][0]
    await hl.create_order(BTC, "limit", "buy", 0.01, ask, {"timeInForce": "Ioc"})
    await _control(sim, "/_sim/funding", {"symbol": "BTC", "rate": "0.0001"})
    since = int(time.time() * 1000) - 1000
    await _control(sim, "/_sim/settle", {})
    (payment,) = await hl.fetch_funding_history(BTC, since)
    mark = sim.engine.markets["BTC_USDC_PERP"].mark
    expected = -(Decimal("0.0001") * Decimal("0.01") * mark).quantize(Decimal("0.000001"))
    assert Decimal(str(payment["amount"])) == expected  # a long pays a positive rate
    assert payment["rate"] == pytest.approx(0.0001)
    assert payment["info"]["delta"]["szi"] == "0.01"


async def test_wrong_key_is_refused(sim: HyperliquidSimulator) -> None:
    ex = _client(sim, STRANGER)
    try:
        await ex.load_markets()
        with pytest.raises(InvalidOrder, match=rf"User or API Wallet {STRANGER.address.lower()}"):
            await ex.create_order(BTC, "limit", "buy", 0.001, 97000, {"timeInForce": "Ioc"})
        assert sim.engine.accounts[MAIN.address.lower()].orders == {}
    finally:
        await ex.close()


async def test_venue_refusals_carry_its_texts(hl: Any) -> None:
    await hl.load_markets()
    ask = (await hl.fetch_order_book(BTC))["asks"][0][0]
    with pytest.raises(InvalidOrder, match=r"minimum value of \$10\. asset=0"):
        await hl.create_order(BTC, "limit", "buy", 0.0001, ask, {"timeInForce": "Ioc"})
    # ccxt rounds prices itself; the raw wire shows the venue's own precision checks.
    with pytest.raises(InvalidOrder, match=r"Price must be divisible by tick size\. asset=0"):
        await _raw_order(hl, {"a": 0, "b": True, "p": "97000.5", "s": "0.001"})
    with pytest.raises(InvalidOrder, match=r"Order has invalid size\."):
        await _raw_order(hl, {"a": 0, "b": True, "p": str(int(ask)), "s": "0.000001"})
    with pytest.raises(InvalidOrder, match="could not immediately match against any resting"):
        await hl.create_order(BTC, "limit", "buy", 0.001, int(ask * 0.9), {"timeInForce": "Ioc"})
    with pytest.raises(InvalidOrder, match="Reduce only order would increase position"):
        await hl.create_order(BTC, "limit", "sell", 0.001, ask, {"reduceOnly": True})


async def _raw_order(hl: Any, order: dict[str, Any]) -> Any:
    """Send an order action exactly as given, signed the way ccxt signs."""
    order = {**order, "r": False, "t": {"limit": {"tif": "Ioc"}}}
    action = {"type": "order", "orders": [order], "grouping": "na"}
    nonce = hl.milliseconds()
    signature = hl.sign_l1_action(action, nonce)
    return await hl.privatePostExchange({"action": action, "nonce": nonce, "signature": signature})


async def test_reduce_only_ioc_closes_the_position(hl: Any) -> None:
    await hl.load_markets()
    book = await hl.fetch_order_book(BTC)
    opened = await hl.create_order(
        BTC, "limit", "buy", 0.003, book["asks"][0][0], {"timeInForce": "Ioc"}
    )
    closed = await hl.create_order(
        BTC, "limit", "sell", 0.003, book["bids"][0][0], {"timeInForce": "Ioc", "reduceOnly": True}
    )
    assert (await hl.fetch_order(closed["id"], BTC))["reduceOnly"] is True
    assert await hl.fetch_positions([BTC]) == []
    first, last = await hl.fetch_my_trades(BTC)  # newest first on the wire; ccxt sorts
    assert (first["order"], last["order"]) == (opened["id"], closed["id"])
    assert last["info"]["dir"] == "Close Long" and last["info"]["startPosition"] == "0.003"
    pnl = (Decimal(str(book["bids"][0][0])) - Decimal(str(book["asks"][0][0]))) * Decimal("0.003")
    assert Decimal(last["info"]["closedPnl"]) == pnl


async def test_funding_settles_every_hour() -> None:
    hour = 1_760_000_400 // 3600 * 3600 + 3600
    clock = FakeClock(hour - 600)
    async with HyperliquidSimulator(
        seed=2, random_walk=False, tick_interval=0.02, clock=clock
    ) as s:
        s.deposit(MAIN.address, 1_000)
        s.approve_agent(MAIN.address, AGENT.address)
        ex = _client(s, AGENT)
        try:
            await ex.load_markets()
            ask = (await ex.fetch_order_book(BTC))["asks"][0][0]
            await ex.create_order(BTC, "limit", "sell", 0.001, ask * 0.99, {"timeInForce": "Ioc"})
            for n in (1, 2):
                clock.set(hour + (n - 1) * 3600)
                rows = await _wait_for_funding(ex, n)
                assert rows[-1]["timestamp"] == (hour + (n - 1) * 3600) * 1000
                assert rows[-1]["info"]["delta"]["szi"] == "-0.001"
                assert rows[-1]["amount"] > 0  # a short receives a positive rate
        finally:
            await ex.close()


async def _wait_for_funding(ex: Any, n: int) -> list[Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows: list[Any] = await ex.fetch_funding_history(BTC)
        if len(rows) >= n:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"no funding payment #{n} within 5 s")


async def test_lost_answer_order_is_found_by_its_cloid(hl: Any, sim: HyperliquidSimulator) -> None:
    await hl.load_markets()
    ask = (await hl.fetch_order_book(BTC))["asks"][0][0]
    # ccxt sends approveBuilderFee before every order: the fault waits for the order itself.
    await _control(sim, "/_sim/fault", {"kind": "lost_response", "action": "order"})
    with pytest.raises(NetworkError):
        await hl.create_order(
            BTC, "limit", "sell", 0.002, ask * 0.99, {"timeInForce": "Ioc", "clientOrderId": CLOID}
        )
    found = await hl.fetch_order(None, BTC, {"clientOrderId": CLOID})
    assert found["status"] == "closed" and found["filled"] == 0.002
    (position,) = await hl.fetch_positions([BTC])
    assert position["side"] == "short" and position["contracts"] == 0.002
    await _control(sim, "/_sim/fault", {"kind": "http_error", "status": 502})
    with pytest.raises(ExchangeNotAvailable):
        await hl.fetch_balance()
    assert (await hl.fetch_balance())["USDC"]["total"] < 10_000  # fees paid; the fault is spent


async def test_control_routes_need_the_runs_token_and_paper_mode_has_none() -> None:
    sim = HyperliquidSimulator(seed=1, random_walk=False)
    async with sim as s, httpx.AsyncClient(base_url=sim.rest_url) as http:
        body = {"user": MAIN.address, "amount": "5"}
        for path in ("/_sim/deposit", "/_sim/settle", "/_sim/reset", "/_sim/fault"):
            assert (await http.post(path, json=body)).status_code == 403
        assert (await http.get("/_sim/state")).status_code == 403
        assert MAIN.address.lower() not in s.engine.accounts
        token = control_headers(sim)
        plain = {**token, "Content-Type": "text/plain"}
        assert (await http.post("/_sim/deposit", content="{}", headers=plain)).status_code == 415
        rebound = {**token, "Host": f"evil.example:{sim.port}"}
        assert (await http.post("/_sim/deposit", json=body, headers=rebound)).status_code == 403
        assert (await http.post("/_sim/deposit", json=body, headers=token)).status_code == 200
        assert MAIN.address.lower() in s.engine.accounts
        # The venue's own API is not the control API: no token there.
        meta = await http.post("/info", json={"type": "meta"})
        assert meta.status_code == 200
    paper = HyperliquidSimulator(seed=1, random_walk=False, control=False)
    async with paper, httpx.AsyncClient(base_url=paper.rest_url) as http:
        assert paper.control_token is None
        assert (await http.post("/_sim/deposit", json=body)).status_code == 404
        assert (await http.get("/_sim/state")).status_code == 404
        assert (await http.post("/info", json={"type": "meta"})).status_code == 200


async def test_resting_order_fills_as_maker_when_the_market_comes(
    hl: Any, sim: HyperliquidSimulator
) -> None:
    await hl.load_markets()
    bid = (await hl.fetch_order_book(BTC))["bids"][0][0]
    price = int(bid * 0.99)
    order = await hl.create_order(BTC, "limit", "buy", 0.001, price, {"clientOrderId": CLOID})
    await _control(sim, "/_sim/price", {"symbol": "BTC_USDC_PERP", "price": str(price - 100)})
    (trade,) = await hl.fetch_my_trades(BTC)
    assert trade["order"] == order["id"] and trade["takerOrMaker"] == "maker"
    assert trade["price"] == price
    assert trade["fee"]["cost"] == pytest.approx(price * 0.001 * 0.00015, abs=1e-6)  # maker fee
    assert (await hl.fetch_order(None, BTC, {"clientOrderId": CLOID}))["status"] == "closed"
