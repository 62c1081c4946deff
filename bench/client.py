"""The exchange client: per-call time against same-run floors, and WebSocket ingest.

Against a simulator in its own process (``python -m bot.sim``), sequential calls, median of
``ROUNDS``:

* ``get_price`` (GET /api/v1/ticker) — ours vs a hand-written GET on the same stack (httpx on
  the httpx-aiohttp transport: the floor for our layer) vs ccxt async ``fetch_ticker`` vs a raw
  aiohttp GET (the floor for Python).
* signed market ``place_order`` — ours (rounding, validation, clientId, signing) vs a
  hand-written signed POST through httpx vs ccxt ``create_order`` vs raw aiohttp + PyNaCl (the
  same stack as ours: signed writes skip the httpx adapter and go straight to aiohttp).

WS ingest: recorded ticker/bookTicker frames replayed through the client's frame handler with
one price callback registered; messages per second (target ≥ 50,000), against a loop that only
``json.loads`` the same frames.

Issue 4 targets: our layer within 1.2x of the same-stack floor; ``place_order`` no slower than
ccxt; ``get_price`` within 1.5x of ccxt's ``fetch_ticker``.

Run: ``python -m bench.client`` (or ``python -m bench``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import httpx
from httpx_aiohttp import AiohttpTransport
from nacl.signing import SigningKey

from bench.sim import _process
from bot.exchange.auth import Signer, signing_string
from bot.exchange.client import BackpackAPI

ROUNDS = 300
SYMBOL = "BTC_USDC_PERP"
SIM_ARGS = (
    *("-m", "bot.sim", "--host", "127.0.0.1", "--port", "0"),
    *("--seed", "1", "--balance", "100000000"),
)


async def _median_ms(fn: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> float:
    for _ in range(10):
        await fn()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _keys() -> tuple[str, str]:
    sk = SigningKey.generate()
    return (
        base64.b64encode(bytes(sk.verify_key)).decode(),
        base64.b64encode(bytes(sk)).decode(),
    )


async def rest(rest_url: str, ws_url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    api_key, secret = _keys()
    signer = Signer(api_key, secret)
    side = ["Bid", "Ask"]
    n = [0]

    async with BackpackAPI(api_key, secret, rest_url, ws_url, logging.getLogger("bench")) as api:
        await api.load_markets()
        out["ours_get"] = await _median_ms(lambda: api.get_price(SYMBOL))

        async def ours_order() -> Any:
            n[0] += 1
            s = "BUY" if n[0] % 2 else "SELL"
            return await api.place_order(SYMBOL, s, "0.001", order_type="MARKET")

        out["ours_post"] = await _median_ms(ours_order)

    async with httpx.AsyncClient(base_url=rest_url, transport=AiohttpTransport()) as http:

        async def floor_get() -> Any:
            r = await http.get("/api/v1/ticker", params={"symbol": SYMBOL})
            return Decimal(r.json()["lastPrice"])

        out["floor_get"] = await _median_ms(floor_get)

        async def floor_post() -> Any:
            n[0] += 1
            body = {
                "symbol": SYMBOL,
                "side": side[n[0] % 2],
                "orderType": "Market",
                "quantity": "0.001",
            }
            ts = int(time.time() * 1000)
            headers = {
                "X-API-Key": api_key,
                "X-Timestamp": str(ts),
                "X-Window": "5000",
                "X-Signature": signer.sign(signing_string("orderExecute", body, ts)),
                "Content-Type": "application/json",
            }
            r = await http.post("/api/v1/order", content=json.dumps(body), headers=headers)
            return r.json()

        out["floor_post"] = await _median_ms(floor_post)

    # ccxt throttles itself to its rate limit by default; off, to measure the client itself
    ex = ccxt_async.backpack({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
    ex.urls["api"] = {"public": rest_url, "private": rest_url}
    try:
        await ex.load_markets()
        out["ccxt_get"] = await _median_ms(lambda: ex.fetch_ticker("BTC/USDC:USDC"))

        async def ccxt_order() -> Any:
            n[0] += 1
            s = "buy" if n[0] % 2 else "sell"
            return await ex.create_order("BTC/USDC:USDC", "market", s, 0.001)

        out["ccxt_post"] = await _median_ms(ccxt_order)
    finally:
        await ex.close()

    async with aiohttp.ClientSession(base_url=rest_url) as session:

        async def raw_get() -> Any:
            async with session.get("/api/v1/ticker", params={"symbol": SYMBOL}) as r:
                return await r.read()

        out["raw_get"] = await _median_ms(raw_get)

        async def raw_post() -> Any:
            n[0] += 1
            body = {
                "symbol": SYMBOL,
                "side": side[n[0] % 2],
                "orderType": "Market",
                "quantity": "0.001",
            }
            ts = int(time.time() * 1000)
            headers = {
                "X-API-Key": api_key,
                "X-Timestamp": str(ts),
                "X-Window": "5000",
                "X-Signature": signer.sign(signing_string("orderExecute", body, ts)),
                "Content-Type": "application/json",
            }
            async with session.post("/api/v1/order", data=json.dumps(body), headers=headers) as r:
                return await r.read()

        out["raw_post"] = await _median_ms(raw_post)
    return out


def _frames(count: int) -> list[dict[str, Any]]:
    symbols = [f"{b}_USDC_PERP" for b in ("BTC", "ETH", "SOL", "DOGE", "XRP")]
    frames: list[dict[str, Any]] = []
    for i in range(count):
        s = symbols[i % len(symbols)]
        px = f"{100 + (i % 1000) / 10:.1f}"
        if i % 2:
            frames.append(
                {"stream": f"ticker.{s}", "data": {"e": "ticker", "s": s, "c": px, "v": "1"}}
            )
        else:
            frames.append(
                {
                    "stream": f"bookTicker.{s}",
                    "data": {"e": "bookTicker", "s": s, "b": px, "a": px, "B": "1", "A": "1"},
                }
            )
    return frames


async def ingest(count: int = 200_000) -> tuple[float, float]:
    """(ours, baseline) messages per second from replayed raw frames."""
    raw = [json.dumps(f) for f in _frames(count)]
    api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9/ws")
    seen = [0]

    async def cb(symbol: str, price: Decimal) -> None:
        seen[0] += 1

    api.register_price_callback(cb)
    for d in api._price_callbacks:
        d.start()
    handle = api._on_frame
    t0 = time.perf_counter()
    for i, text in enumerate(raw):
        handle(json.loads(text))
        if i % 1000 == 0:
            await asyncio.sleep(0)  # let the callback run, as the event loop would
    ours = count / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for text in raw:
        json.loads(text)
    base = count / (time.perf_counter() - t0)
    await api.close()
    return ours, base


async def main() -> None:
    async with _process(*SIM_ARGS) as (rest_url, ws_url):
        r = await rest(rest_url, ws_url)
    ours_ws, base_ws = await ingest()
    print(
        f"{'client (bench/client.py), ms/call':<34} {'ours':>6} {'floor':>6} {'ccxt':>6} {'raw':>6}"
    )
    for what, key in (("get_price / fetch_ticker", "get"), ("signed market order", "post")):
        print(
            f"{what:<34} {r['ours_' + key]:>6.2f} {r['floor_' + key]:>6.2f} "
            f"{r['ccxt_' + key]:>6.2f} {r['raw_' + key]:>6.2f}"
        )
    g = r["ours_get"] / r["floor_get"]
    p = r["ours_post"] / r["raw_post"]
    print(
        f"ours / same-stack floor: get {g:.2f}x (httpx on aiohttp), "
        f"order {p:.2f}x (signed writes go straight to aiohttp: raw aiohttp + PyNaCl) "
        "(target <= 1.2x)"
    )
    print(
        f"ours / ccxt: get {r['ours_get'] / r['ccxt_get']:.2f}x (target <= 1.5x), "
        f"order {r['ours_post'] / r['ccxt_post']:.2f}x (target <= 1.0x)"
    )
    ok = "ok" if ours_ws >= 50_000 else "MISSED"
    print(
        f"WS ingest: {ours_ws:,.0f} msg/s into prices + 1 callback; json.loads alone "
        f"{base_ws:,.0f} msg/s ({ours_ws / base_ws:.2f}x); target 50,000 {ok}"
    )


if __name__ == "__main__":
    asyncio.run(main())
