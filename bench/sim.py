"""Simulator throughput: signed market orders per second and WebSocket messages per second.

Each server runs in its own process (``python -m bot.sim`` or the baseline below) so the client
and the server do not share a core, as on a real deployment. Every number is printed next to a
baseline measured in the same run on the same stack (aiohttp), as a ratio:

* REST: a keep-alive client with ``CONCURRENCY`` requests in flight sends signed
  ``POST /api/v1/order`` market orders (alternating buy/sell on a perp); the baseline is a
  hello-world aiohttp handler answering ``GET /`` with a small JSON body.
* WS: one subscriber to every public stream of every market while the simulator's random walk
  runs flat out (``--tick-interval 0``); the baseline is an aiohttp handler pushing one prebuilt
  frame in a loop.

Run: ``python -m bench.sim`` (or ``python -m bench`` for every benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from nacl.signing import SigningKey

CONCURRENCY = 32
REST_SECONDS = 3.0
WS_SECONDS = 3.0
TARGET_ORDERS = 1500.0
TARGET_WS = 20000.0
READY = re.compile(r"ready (http://\S+) (ws://\S+)")


@asynccontextmanager
async def _process(*args: str) -> Any:
    """Start a server process that prints ``... ready http://.. ws://..``; yield its URLs."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = READY.search(line)
        if match is None:
            raise RuntimeError(f"server did not start: {line!r}")
        yield match.group(1), match.group(2)
    finally:
        proc.terminate()
        await proc.wait()


def _signed(key: SigningKey, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Pre-sign one order with the maximum window: the client's signing cost is not measured."""
    ts = str(int(time.time() * 1000))
    params = "&".join(f"{k}={v}" for k, v in sorted(body.items()))
    text = f"instruction=orderExecute&{params}&timestamp={ts}&window=60000"
    headers = {
        "X-API-Key": base64.b64encode(bytes(key.verify_key)).decode(),
        "X-Signature": base64.b64encode(key.sign(text.encode()).signature).decode(),
        "X-Timestamp": ts,
        "X-Window": "60000",
        "Content-Type": "application/json; charset=utf-8",
    }
    return json.dumps(body).encode(), headers


async def _hammer(
    send: Callable[[aiohttp.ClientSession, int], Awaitable[None]], seconds: float
) -> float:
    """Requests per second with ``CONCURRENCY`` workers on one keep-alive connection pool."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        for i in range(CONCURRENCY):  # warm up the pool
            await send(http, i)
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            nonlocal done
            i = n
            while time.perf_counter() < deadline:
                await send(http, i)
                i += CONCURRENCY
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
        return done / (time.perf_counter() - start)


async def rest_orders(rest_url: str) -> float:
    """Signed market-order round trips per second against the simulator."""
    key = SigningKey.generate()
    orders = [
        _signed(
            key,
            {"orderType": "Market", "quantity": "0.1", "side": side, "symbol": "SOL_USDC_PERP"},
        )
        for side in ("Bid", "Ask")
    ]
    url = f"{rest_url}/api/v1/order"

    async def send(http: aiohttp.ClientSession, i: int) -> None:
        body, headers = orders[i % 2]
        async with http.post(url, data=body, headers=headers) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"order failed: {r.status} {await r.text()}")

    return await _hammer(send, REST_SECONDS)


async def rest_baseline(rest_url: str) -> float:
    """Hello-world GETs per second on the same stack."""

    async def send(http: aiohttp.ClientSession, i: int) -> None:
        async with http.get(rest_url + "/") as r:
            await r.read()

    return await _hammer(send, REST_SECONDS)


async def ws_rate(ws_url: str, subscribe: list[str]) -> float:
    """Messages per second received by one subscriber."""
    close_timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url, timeout=close_timeout) as ws,
    ):
        if subscribe:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": subscribe}))
        await ws.receive()  # first frame: streaming has started
        count = 0
        start = time.perf_counter()
        deadline = start + WS_SECONDS
        while time.perf_counter() < deadline:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed: {msg}")
            count += 1
        return count / (time.perf_counter() - start)


async def _public_streams(rest_url: str) -> list[str]:
    async with aiohttp.ClientSession() as http, http.get(rest_url + "/api/v1/markets") as r:
        markets = await r.json()
    kinds = ("depth", "bookTicker", "trade", "ticker", "markPrice", "kline.1m")
    return [f"{k}.{m['symbol']}" for m in markets for k in kinds]


# ---------------------------------------------------------------------- baseline server


def _baseline_app() -> web.Application:
    frame = json.dumps(
        {
            "stream": "depth.BTC_USDC_PERP",
            "data": {
                "e": "depth",
                "E": 1790134357267289,
                "s": "BTC_USDC_PERP",
                "a": [],
                "b": [["86655.9", "1.94230"]],
                "U": 6730019258,
                "u": 6730019258,
                "T": 1790134357267074,
            },
        }
    )

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    async def push(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        closing = asyncio.create_task(ws.receive())  # done when the client says goodbye
        sent = 0
        while not closing.done() and not ws.closed:
            await ws.send_str(frame)
            sent += 1
            if sent % 64 == 0:
                await asyncio.sleep(0)  # let the reader notice a close frame
        closing.cancel()
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/ws", push)
    return app


async def _serve_baseline() -> None:
    runner = web.AppRunner(_baseline_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"baseline ready http://127.0.0.1:{port} ws://127.0.0.1:{port}/ws", flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------------- report


async def measure() -> dict[str, float]:
    """Run all four measurements; returns rates per second."""
    out: dict[str, float] = {}
    async with _process("-m", "bench.sim", "--serve-baseline") as (rest, ws):
        out["rest_baseline"] = await rest_baseline(rest)
        out["ws_baseline"] = await ws_rate(ws, [])
    sim_args = ("-m", "bot.sim", "--host", "127.0.0.1", "--port", "0", "--seed", "1")
    async with _process(*sim_args) as (rest, ws):
        out["rest_orders"] = await rest_orders(rest)
    async with _process(*sim_args, "--tick-interval", "0") as (rest, ws):
        out["ws_sim"] = await ws_rate(ws, await _public_streams(rest))
    return out


async def main() -> None:
    """Print the simulator's throughput against the same-run baselines."""
    r = await measure()
    rows = [
        ("signed market orders/s", r["rest_orders"], r["rest_baseline"], TARGET_ORDERS),
        ("WS messages/s, 1 subscriber", r["ws_sim"], r["ws_baseline"], TARGET_WS),
    ]
    print(f"{'simulator (bench/sim.py)':<30} {'rate':>10} {'baseline':>10} {'ratio':>7} target")
    for name, rate, base, target in rows:
        ok = "ok" if rate >= target else "MISSED"
        print(f"{name:<30} {rate:>10,.0f} {base:>10,.0f} {rate / base:>7.2f} {target:,.0f} {ok}")
    print(
        f"baseline: aiohttp hello-world GET ({CONCURRENCY} in flight, keep-alive) / "
        "aiohttp push loop of one prebuilt depth frame"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.sim")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args().serve_baseline:
        asyncio.run(_serve_baseline())
    else:
        asyncio.run(main())
