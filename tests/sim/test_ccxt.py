"""ccxt's own backpack client (REST and pro WebSocket), unmodified, against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair


def _point(ex: Any, sim: Simulator) -> None:
    ex.urls["api"] = {"public": sim.rest_url, "private": sim.rest_url}
    if "ws" in ex.urls["api"] or hasattr(ex, "watch_ticker"):
        ex.urls["api"]["ws"] = {"public": sim.ws_url, "private": sim.ws_url}


@pytest.fixture
async def exchange(sim: Simulator, keys: KeyPair) -> AsyncIterator[Any]:
    ex = ccxt_async.backpack({"apiKey": keys.api_key, "secret": keys.api_secret})
    _point(ex, sim)
    yield ex
    await ex.close()


async def test_market_data(exchange: Any) -> None:
    markets = await exchange.load_markets()
    assert "BTC/USDC:USDC" in markets and "SOL/USDC" in markets
    btc = markets["BTC/USDC:USDC"]
    assert btc["swap"] and btc["precision"]["price"] == 0.1
    t = await exchange.fetch_ticker("BTC/USDC:USDC")
    assert t["last"] > 0 and t["high"] >= t["low"]
    ts = await exchange.fetch_tickers()
    assert len(ts) >= 13
    book = await exchange.fetch_order_book("ETH/USDC:USDC")
    assert len(book["bids"]) >= 20 and len(book["asks"]) >= 20
    assert book["bids"][0][0] < book["asks"][0][0]
    assert book["nonce"] is not None
    ohlcv = await exchange.fetch_ohlcv("BTC/USDC:USDC", "1h", limit=48)
    assert len(ohlcv) >= 24 and all(c[2] >= c[3] for c in ohlcv)
    fr = await exchange.fetch_funding_rate("BTC/USDC:USDC")
    assert fr["fundingRate"] is not None and fr["markPrice"] > 0
    hist = await exchange.fetch_funding_rate_history("BTC/USDC:USDC", limit=100)
    assert len(hist) >= 24
    trades = await exchange.fetch_trades("SOL/USDC:USDC")
    assert isinstance(trades, list)


async def test_trading(exchange: Any, control: Control, keys: KeyPair) -> None:
    await exchange.load_markets()
    bal = await exchange.fetch_balance()
    assert bal["USDC"]["free"] == 100000
    sym = "SOL/USDC:USDC"
    order = await exchange.create_order(sym, "market", "buy", 2)
    assert order["status"] == "closed" and order["filled"] == 2
    positions = await exchange.fetch_positions()
    assert len(positions) == 1 and positions[0]["side"] == "long"
    price = (await exchange.fetch_ticker(sym))["last"]
    limit = await exchange.create_order(sym, "limit", "buy", 1, round(price * 0.9, 2))
    assert limit["status"] == "open"
    with pytest.raises(ccxt_async.InvalidOrder):
        await exchange.create_order(
            sym, "limit", "buy", 1, round(price * 1.05, 2), {"postOnly": True}
        )
    opened = await exchange.fetch_open_orders(sym)
    assert [o["id"] for o in opened] == [limit["id"]]
    cancelled = await exchange.cancel_order(limit["id"], sym)
    assert cancelled["id"] == limit["id"]
    await exchange.create_order(sym, "limit", "buy", 1, round(price * 0.8, 2))
    await exchange.create_order(sym, "limit", "buy", 1, round(price * 0.85, 2))
    gone = await exchange.cancel_all_orders(sym)
    assert len(gone) == 2
    assert await exchange.fetch_open_orders(sym) == []
    reduce = await exchange.create_order(sym, "market", "sell", 5, None, {"reduceOnly": True})
    assert reduce["filled"] == 2  # capped at the position: reduce-only never flips
    assert await exchange.fetch_positions() == []
    fills = await exchange.fetch_my_trades(sym)
    assert len(fills) >= 2
    acct = await control.account(keys.api_key)
    assert len(acct["orders"]) == 5  # the rejected post-only order never existed


async def test_auth_error_maps_to_ccxt(sim: Simulator, keys: KeyPair) -> None:
    other = ccxt_async.backpack({"apiKey": keys.api_key, "secret": "A" * 43 + "="})
    _point(other, sim)
    try:
        with pytest.raises(ccxt_async.BadRequest, match="Invalid signature"):
            await other.fetch_balance()
    finally:
        await other.close()


async def test_pro_watch_ticker_and_order_book(sim: Simulator) -> None:
    ex = ccxt_pro.backpack()
    _point(ex, sim)
    try:
        await ex.load_markets()
        t1 = await asyncio.wait_for(ex.watch_ticker("BTC/USDC:USDC"), 5)
        t2 = await asyncio.wait_for(ex.watch_ticker("BTC/USDC:USDC"), 5)
        assert t1["symbol"] == t2["symbol"] == "BTC/USDC:USDC"
        book = await asyncio.wait_for(ex.watch_order_book("ETH/USDC:USDC"), 10)
        first_nonce = book["nonce"]
        book = await asyncio.wait_for(ex.watch_order_book("ETH/USDC:USDC"), 10)
        assert book["nonce"] > first_nonce
        assert book["bids"][0][0] < book["asks"][0][0]
    finally:
        await ex.close()


async def test_conditional_orders(exchange: Any, control: Control) -> None:
    """ccxt's ``triggerPrice`` and attached ``stopLoss``/``takeProfit`` (its stop/TP prices)."""
    sym = "SOL/USDC:USDC"
    await exchange.load_markets()
    price = (await exchange.fetch_ticker(sym))["last"]
    trigger = await exchange.create_order(
        sym, "market", "buy", 1, None, {"triggerPrice": round(price * 1.2, 2)}
    )
    assert trigger["status"] == "open" and trigger["triggerPrice"] == round(price * 1.2, 2)
    assert trigger["amount"] == 0 or trigger["info"]["triggerQuantity"] == "1"
    entry = await exchange.create_order(
        sym,
        "market",
        "buy",
        2,
        None,
        {
            "stopLoss": {"triggerPrice": round(price * 0.9, 2)},
            "takeProfit": {"triggerPrice": round(price * 1.1, 2)},
        },
    )
    assert entry["stopLossPrice"] == round(price * 0.9, 2)
    assert entry["takeProfitPrice"] == round(price * 1.1, 2)
    # ccxt forwards its unified stopLossPrice verbatim, which is not an order field: a standalone
    # stop is triggerPrice + reduceOnly
    stop = await exchange.create_order(
        sym, "market", "sell", 2, None, {"triggerPrice": round(price * 0.85, 2), "reduceOnly": True}
    )
    assert stop["status"] == "open" and stop["reduceOnly"] is True
    opened = await exchange.fetch_open_orders(sym)
    protective = [o for o in opened if o["info"]["relatedOrderId"] == entry["id"]]
    assert len(protective) == 2 and all(o["reduceOnly"] for o in protective)
    assert {o["triggerPrice"] for o in protective} == {round(price * 0.9, 2), round(price * 1.1, 2)}
    await control.post("price", {"symbol": "SOL_USDC_PERP", "price": str(round(price * 0.89, 2))})
    assert await exchange.fetch_positions() == []  # the SL closed it; TP and stop went with it
    left = await exchange.fetch_open_orders(sym)
    assert [o["id"] for o in left] == [trigger["id"]]


async def test_pro_watch_balance(sim: Simulator, keys: KeyPair) -> None:
    ex = ccxt_pro.backpack({"apiKey": keys.api_key, "secret": keys.api_secret})
    _point(ex, sim)
    rest = ccxt_async.backpack({"apiKey": keys.api_key, "secret": keys.api_secret})
    _point(rest, sim)
    try:
        await ex.load_markets()
        await rest.load_markets()
        await rest.fetch_balance()  # the account exists before the stream starts
        watching = asyncio.ensure_future(ex.watch_balance())
        await asyncio.sleep(0.3)  # subscribed
        await rest.create_order("SOL/USDC", "market", "buy", 1)
        balance = await asyncio.wait_for(watching, 5)
        assert balance["USDC"]["free"] < 100000  # the first frame: the USDC it paid
    finally:
        await ex.close()
        await rest.close()


async def test_trades_newest_first(exchange: Any) -> None:
    trades = await exchange.fetch_trades("ETH/USDC:USDC", limit=50)
    assert len(trades) >= 20  # a fresh simulator already has a tape
    # ccxt sorts by time itself; the wire order is checked in test_divergences.py
    assert trades[0]["timestamp"] <= trades[-1]["timestamp"]
