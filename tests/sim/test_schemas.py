"""Every REST reply and WebSocket payload the simulator sends, held against Backpack's own specs.

REST bodies are validated against the OpenAPI response schema of their operation; every engine
event (all streams, public and private) against the AsyncAPI channel's message. See
``tests/sim/schemas.py`` for how the specs are read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import websockets

from bot.sim import Simulator
from tests.conftest import Control
from tests.keys import KeyPair
from tests.sim.schemas import errors, response_validator, schema_validator, stream_validator
from tests.sim.wire import Wire

PERP = "SOL_USDC_PERP"
SPOT = "SOL_USDC"

# Streams outside the AsyncAPI document: payloads follow ccxt pro's parser (see the README).
UNSPECIFIED = {"account.balanceUpdate"}


class Recorder:
    """Collects schema violations from replies and frames; the test asserts there are none."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked: dict[str, int] = {}
        self.events: set[tuple[str, str]] = set()

    def reply(self, method: str, path: str, body: Any) -> None:
        key = f"{method} {path}"
        self.checked[key] = self.checked.get(key, 0) + 1
        for e in errors(response_validator(method, path), body):
            self.problems.append(f"{key}: {e}")

    def frame(self, stream: str, data: Any) -> None:
        self.events.add((stream, str(data.get("e"))))
        validator = stream_validator(stream)
        if validator is None:
            if stream not in UNSPECIFIED:
                self.problems.append(f"{stream}: no channel in the AsyncAPI document")
            return
        kind = stream if stream.startswith("account.") else stream.split(".", 1)[0]
        self.checked[kind] = self.checked.get(kind, 0) + 1
        if self.checked[kind] > 200 and not kind.startswith("account."):
            return  # enough of the same public payload; private ones are all checked
        documented, problems = as_documented(stream, data)
        self.problems.extend(f"{stream}: {p} in {json.dumps(data)[:300]}" for p in problems)
        for e in errors(validator, {"stream": stream, "data": documented}):
            self.problems.append(f"{stream}: {e} in {json.dumps(data)[:300]}")


#: positionUpdate keys the AsyncAPI document types as numbers and live frames carry as strings.
POSITION_NUMBERS = ("b", "B", "f", "m", "M", "q", "Q", "n")


def as_documented(stream: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The two documented exceptions (docs/simulator.md): where a recording of the live
    exchange and the AsyncAPI document disagree, the simulator sends the live types —
    ``bookTicker.u`` a JSON number, ``positionUpdate`` quantities and prices decimal strings.
    Checks a frame has the live type there, and returns it in the document's types (the spec
    then checks everything else) with any problem found."""
    out = dict(data)
    problems: list[str] = []
    if stream.startswith("bookTicker."):
        u = data.get("u")
        if isinstance(u, bool) or not isinstance(u, int):
            problems.append(f"u: {u!r} is not a JSON number (live frames carry one)")
        out["u"] = str(u)
    elif stream.startswith("account.positionUpdate"):
        for key in POSITION_NUMBERS:
            value = data.get(key)
            if not isinstance(value, str):
                problems.append(f"{key}: {value!r} is not a decimal string (live frames carry one)")
                continue
            try:
                out[key] = float(Decimal(value))
            except ArithmeticError:
                problems.append(f"{key}: {value!r} is not a decimal")
    return out, problems


@pytest.fixture
async def recorder(sim: Simulator) -> AsyncIterator[Recorder]:
    rec = Recorder()
    remove = sim.engine.add_listener(lambda s, a, d: rec.frame(s, d))  # every stream, built
    yield rec
    remove()


@pytest.fixture
async def wire(sim: Simulator, keys: KeyPair) -> AsyncIterator[Wire]:
    w = Wire(sim.rest_url, keys)
    yield w
    await w.close()


async def call(rec: Recorder, wire: Wire, method: str, path: str, params: Any = None) -> Any:
    body = await wire.call(method, path, params)
    rec.reply(method, path, body)
    return body


async def test_public_replies_match_the_openapi_spec(recorder: Recorder, wire: Wire) -> None:
    for path, params in [
        ("/api/v1/assets", {}),
        ("/api/v1/collateral", {}),
        ("/api/v1/markets", {}),
        ("/api/v1/markets", {"marketType": "PERP"}),
        ("/api/v1/market", {"symbol": PERP}),
        ("/api/v1/depth", {"symbol": PERP}),
        ("/api/v1/ticker", {"symbol": SPOT}),
        ("/api/v1/tickers", {}),
        ("/api/v1/trades", {"symbol": PERP}),
        ("/api/v1/trades/history", {"symbol": PERP, "limit": "5"}),
        ("/api/v1/markPrices", {}),
        ("/api/v1/fundingRates", {"symbol": PERP}),
        ("/api/v1/openInterest", {}),
        ("/api/v1/status", {}),
        ("/api/v1/wallets", {}),
        ("/api/v1/securities", {}),
        ("/api/v1/market", {"symbol": "BTC_USDC"}),
    ]:
        await call(recorder, wire, "GET", path, params)
    for interval, span in (("1s", 120), ("1m", 7200), ("1h", 86400 * 2), ("1d", 86400 * 10)):
        end = int(time.time())
        rows = await call(
            recorder,
            wire,
            "GET",
            "/api/v1/klines",
            {"symbol": PERP, "interval": interval, "startTime": str(end - span)},
        )
        assert rows, interval
    assert recorder.problems == [], "\n".join(recorder.problems)


async def test_private_replies_and_frames_match_the_specs(
    sim: Simulator, recorder: Recorder, wire: Wire, control: Control
) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(
            wire.subscribe_frame(
                ["account.orderUpdate", "account.positionUpdate", "account.balanceUpdate"]
            )
        )
        await ws.send(
            json.dumps(
                {
                    "method": "SUBSCRIBE",
                    "params": [
                        f"depth.{PERP}",
                        f"bookTicker.{PERP}",
                        f"trade.{PERP}",
                        f"ticker.{PERP}",
                        f"markPrice.{PERP}",
                        f"kline.1m.{PERP}",
                        f"openInterest.{PERP}",
                    ],
                }
            )
        )
        await asyncio.sleep(0.3)
        await _trade_everything(recorder, wire, control)
        received: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0  # public streams never fall silent: read for a while
        while (left := deadline - loop.time()) > 0:
            try:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
            except TimeoutError:
                break
    for msg in received:  # what actually went over the socket, envelope included
        assert "error" not in msg, msg
        recorder.frame(msg["stream"], msg["data"])
    assert {"account.orderUpdate", "account.positionUpdate"} <= set(recorder.checked)
    assert {"depth", "bookTicker", "trade", "markPrice", "kline"} <= set(recorder.checked)
    events = {e for s, e in recorder.events if s == "account.orderUpdate"}
    assert {
        "orderAccepted",
        "orderFill",
        "orderCancelled",
        "triggerPlaced",
        "triggerFailed",
    } <= events
    assert recorder.problems == [], "\n".join(recorder.problems)


async def _trade_everything(rec: Recorder, wire: Wire, control: Control) -> None:
    mark = Decimal((await wire.call("GET", "/api/v1/markPrices", {"symbol": PERP}))[0]["markPrice"])
    below = str((mark * Decimal("0.95")).quantize(Decimal("0.01")))
    above = str((mark * Decimal("1.05")).quantize(Decimal("0.01")))
    await call(rec, wire, "GET", "/api/v1/account")
    await call(rec, wire, "GET", "/api/v1/capital")
    await call(rec, wire, "GET", "/api/v1/capital/collateral")
    await call(rec, wire, "GET", "/api/v1/account/limits/order", {"symbol": PERP, "side": "Bid"})
    order = {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "2"}
    await call(rec, wire, "POST", "/api/v1/order", order)
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "quoteQuantity": "100"},
    )
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {"symbol": SPOT, "side": "Bid", "orderType": "Market", "quantity": "1", "clientId": 7},
    )
    limit = await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {"symbol": PERP, "side": "Bid", "orderType": "Limit", "quantity": "1", "price": below},
    )
    await call(rec, wire, "GET", "/api/v1/order", {"symbol": PERP, "orderId": limit["id"]})
    await call(rec, wire, "GET", "/api/v1/orders", {})
    await call(rec, wire, "DELETE", "/api/v1/order", {"symbol": PERP, "orderId": limit["id"]})
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/orders",
        [
            {"symbol": PERP, "side": "Ask", "orderType": "Limit", "quantity": "1", "price": above},
            {"symbol": PERP, "side": "Ask", "orderType": "Limit", "quantity": "1", "price": "0"},
        ],
    )
    await call(rec, wire, "DELETE", "/api/v1/orders", {"symbol": PERP})
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {"symbol": PERP, "side": "Ask", "orderType": "Market", "quantity": "1", "reduceOnly": True},
    )
    await call(rec, wire, "GET", "/api/v1/position", {})
    # conditional orders: a plain trigger, an entry with SL/TP, one fired by a price move
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {
            "symbol": PERP,
            "side": "Ask",
            "orderType": "Limit",
            "price": below,
            "triggerPrice": below,
            "triggerQuantity": "50%",
            "reduceOnly": True,
            "triggerBy": "LastPrice",
        },
    )
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {
            "symbol": PERP,
            "side": "Bid",
            "orderType": "Market",
            "quantity": "1",
            "stopLossTriggerPrice": below,
            "takeProfitTriggerPrice": above,
            "takeProfitLimitPrice": above,
            "stopLossTriggerBy": "IndexPrice",
        },
    )
    eth = "ETH_USDC_PERP"  # no position there: a "50%" trigger cannot run (triggerFailed)
    await call(
        rec,
        wire,
        "POST",
        "/api/v1/order",
        {
            "symbol": eth,
            "side": "Bid",
            "orderType": "Market",
            "triggerPrice": "3500",
            "triggerQuantity": "50%",
        },
    )
    await control.post("price", {"symbol": eth, "price": "3600"})
    await call(rec, wire, "GET", "/api/v1/orders", {"symbol": PERP})
    await control.post("price", {"symbol": PERP, "price": str(mark * Decimal("1.06"))})
    await call(rec, wire, "GET", "/api/v1/orders", {"symbol": PERP})
    await control.post("funding", {"symbol": PERP, "rate": "0.0001"})
    await control.post("settle")
    await control.post("price", {"symbol": PERP, "price": str(mark * Decimal("0.94"))})
    for path in (
        "/wapi/v1/history/fills",
        "/wapi/v1/history/orders",
        "/wapi/v1/history/funding",
        "/wapi/v1/history/settlement",
        "/wapi/v1/history/position",
    ):
        rows = await call(rec, wire, "GET", path, {})
        assert rows, path


async def test_json_errors_match_the_api_error_schema(wire: Wire, control: Control) -> None:
    """Every JSON error the simulator answers is an ``ApiErrorResponse`` with a spec code."""
    validator = schema_validator("ApiErrorResponse")
    bad_orders: list[dict[str, Any]] = [
        {"symbol": PERP, "side": "Bid", "orderType": "Market"},
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "0.001"},
        {"symbol": PERP, "side": "Bid", "orderType": "Limit", "quantity": "1", "price": "1"},
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "1", "reduceOnly": True},
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "100000"},
        {"symbol": "SOL_USDC", "side": "Ask", "orderType": "Market", "quantity": "5"},
        {"symbol": PERP, "side": "Bid", "orderType": "Market", "triggerPrice": "1"},
    ]
    replies = [await wire.request("POST", "/api/v1/order", body) for body in bad_orders]
    replies.append(await wire.request("GET", "/api/v1/order", {"symbol": PERP, "orderId": "1"}))
    await control.post("fault", {"kind": "http_error", "status": 500, "path": "/api/v1/capital"})
    replies.append(await wire.request("GET", "/api/v1/capital"))
    await control.post("fault", {"kind": "rate_limit", "path": "/api/v1/capital"})
    replies.append(await wire.request("GET", "/api/v1/capital"))
    problems = []
    for r in replies:
        assert r.status_code >= 400, r.text
        problems += [f"{r.text}: {e}" for e in errors(validator, r.json())]
    assert problems == [], "\n".join(problems)
