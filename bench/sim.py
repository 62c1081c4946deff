"""Simulator throughput: signed market orders per second and WebSocket messages per second.

Each server runs in its own process (``python -m bot.sim`` or the baseline below) so the client
and the server do not share a core, as on a real deployment. Every number is printed next to a
baseline measured in the same run on the same stack (aiohttp), as a ratio:

* REST: a keep-alive client with ``CONCURRENCY`` requests in flight sends signed
  ``POST /api/v1/order`` market orders (alternating buy/sell on a perp); the baseline is a
  hello-world aiohttp handler answering ``GET /`` with a small JSON body. Measured three ways:
  without a state file, with durable state (``--state``: every answer waits for its journal
  record's fsync, shared by the requests waiting together), and durable again after
  ``ACCOUNTS`` other accounts each opened a position and the simulator restarted on that
  state (per-order work must not grow with them). The server's CPU time per request is
  printed too (a durable order's fsync runs on a writer thread while the loop serves).
* WS: one subscriber to every public stream of every market while the simulator's random walk
  runs flat out (``--tick-interval 0``); the baseline is an aiohttp handler pushing one prebuilt
  frame in a loop. Each server's CPU time per message is printed as well: on a shared machine
  the rates follow the other load, the CPU cost per message much less.

Run: ``python -m bench.sim`` (or ``python -m bench`` for every benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import re
import subprocess
import sys
import tempfile
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
TARGET_RATIO = 0.3
ACCOUNTS = 10_000
READY = re.compile(r"ready (http://\S+) (ws://\S+)")


@asynccontextmanager
async def _process(*args: str) -> Any:
    """Start a server process that prints ``... ready http://.. ws://..``; yield its URLs."""
    async with _served(*args) as (rest, ws, _pid):
        yield rest, ws


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def _served(*args: str) -> Any:
    """:func:`_process`, yielding the process id as well (to read its CPU time)."""
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
        yield match.group(1), match.group(2), proc.pid
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
    send: Callable[[aiohttp.ClientSession, int], Awaitable[None]], seconds: float, pid: int
) -> tuple[float, float]:
    """Requests per second with ``CONCURRENCY`` workers on one keep-alive connection pool, and
    the server's CPU µs per request (process ``pid``)."""
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

        cpu = _cpu_seconds(pid)
        start = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
        rate = done / (time.perf_counter() - start)
        return rate, (_cpu_seconds(pid) - cpu) / done * 1e6


async def rest_orders(rest_url: str, pid: int) -> tuple[float, float]:
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

    return await _hammer(send, REST_SECONDS, pid)


async def open_accounts(rest_url: str, n: int) -> None:
    """``n`` new accounts (funded at creation), each opening a small SOL perp position."""
    url = f"{rest_url}/api/v1/order"
    orders = [
        _signed(
            SigningKey.generate(),
            {
                "orderType": "Market",
                "quantity": "0.1",
                "side": "Bid" if i % 2 else "Ask",
                "symbol": "SOL_USDC_PERP",
            },
        )
        for i in range(n)
    ]
    queue = iter(orders)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for body, headers in queue:
                async with http.post(url, data=body, headers=headers) as r:
                    if r.status != 200:
                        raise RuntimeError(f"order failed: {r.status} {await r.text()}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def rest_baseline(rest_url: str, pid: int) -> tuple[float, float]:
    """Hello-world GETs per second on the same stack."""

    async def send(http: aiohttp.ClientSession, i: int) -> None:
        async with http.get(rest_url + "/") as r:
            await r.read()

    return await _hammer(send, REST_SECONDS, pid)


async def ws_rate(ws_url: str, subscribe: list[str], pid: int) -> tuple[float, float]:
    """Messages per second received by one subscriber, and the server's CPU µs per message.

    The CPU figure holds on a busy machine, where the rate follows whoever else runs.
    """
    close_timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url, timeout=close_timeout) as ws,
    ):
        if subscribe:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": subscribe}))
        await ws.receive()  # first frame: streaming has started
        count = 0
        cpu = _cpu_seconds(pid)
        start = time.perf_counter()
        deadline = start + WS_SECONDS
        while time.perf_counter() < deadline:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed: {msg}")
            count += 1
        rate = count / (time.perf_counter() - start)
        return rate, (_cpu_seconds(pid) - cpu) / count * 1e6


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
    async with _served("-m", "bench.sim", "--serve-baseline") as (rest, ws, pid):
        out["rest_baseline"], out["rest_baseline_cpu"] = await rest_baseline(rest, pid)
        out["ws_baseline"], out["ws_baseline_cpu"] = await ws_rate(ws, [], pid)
    sim_args = ("-m", "bot.sim", "--host", "127.0.0.1", "--port", "0", "--seed", "1")
    async with _served(*sim_args) as (rest, ws, pid):
        out["rest_orders"], out["rest_orders_cpu"] = await rest_orders(rest, pid)
    with tempfile.TemporaryDirectory() as tmp:
        async with _served(*sim_args, "--state", f"{tmp}/few.json") as (rest, ws, pid):
            out["rest_durable"], out["rest_durable_cpu"] = await rest_orders(rest, pid)
        async with _process(*sim_args, "--state", f"{tmp}/many.json") as (rest, ws):
            await open_accounts(rest, ACCOUNTS)
        # Restarted on that state, so both durable figures start right after a fold of the
        # journal into the snapshot (as the first one does at start-up) and compare per-order
        # work, not where the next fold happens to fall in a short window.
        async with _served(*sim_args, "--state", f"{tmp}/many.json") as (rest, ws, pid):
            many = await rest_orders(rest, pid)
            out["rest_durable_many"], out["rest_durable_many_cpu"] = many
    async with _served(*sim_args, "--tick-interval", "0") as (rest, ws, pid):
        out["ws_sim"], out["ws_sim_cpu"] = await ws_rate(ws, await _public_streams(rest), pid)
    return out


async def main() -> None:
    """Print the simulator's throughput against the same-run baselines."""
    r = await measure()
    rest, durable, many = r["rest_baseline"], r["rest_durable"], r["rest_durable_many"]
    rows = [
        ("signed market orders/s", r["rest_orders"], rest, f"{TARGET_ORDERS:,.0f}/s"),
        ("  durable state (group commit)", durable, rest, f"{TARGET_RATIO}x"),
        (f"  durable, {ACCOUNTS:,} accounts", many, rest, "within 10% of durable"),
        ("WS messages/s, 1 subscriber", r["ws_sim"], r["ws_baseline"], f"{TARGET_RATIO}x"),
    ]
    met = [
        r["rest_orders"] >= TARGET_ORDERS,
        durable / rest >= TARGET_RATIO,
        many >= 0.9 * durable,
        r["ws_sim"] / r["ws_baseline"] >= TARGET_RATIO,
    ]
    print(f"{'simulator (bench/sim.py)':<32} {'rate':>9} {'baseline':>9} {'ratio':>6} target")
    for (name, rate, base, target), ok in zip(rows, met, strict=True):
        verdict = "ok" if ok else "MISSED"
        print(f"{name:<32} {rate:>9,.0f} {base:>9,.0f} {rate / base:>6.2f} {target} {verdict}")
    print(
        f"baseline: aiohttp hello-world GET ({CONCURRENCY} in flight, keep-alive) / "
        f"aiohttp push loop of one prebuilt depth frame; {ACCOUNTS:,} accounts with a position "
        f"each vs the few-accounts durable rate: {many / durable:.2f}x; server CPU per WS "
        f"message: simulator {r['ws_sim_cpu']:.1f} us, push loop {r['ws_baseline_cpu']:.1f} us"
    )
    print(
        "server CPU per request (steadier than rates on a shared machine): hello-world "
        f"{r['rest_baseline_cpu']:.0f} us; signed order {r['rest_orders_cpu']:.0f} us, "
        f"durable {r['rest_durable_cpu']:.0f} us, durable with {ACCOUNTS:,} accounts "
        f"{r['rest_durable_many_cpu']:.0f} us"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.sim")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args().serve_baseline:
        asyncio.run(_serve_baseline())
    else:
        asyncio.run(main())
