"""The simulator's HTTP/WebSocket face: a thin aiohttp layer over :class:`Engine`.

aiohttp serves REST and WebSocket from one port and one event loop, answers protocol pings
itself (``heartbeat``), and is the fastest pure-asyncio server stack we measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from bot.clock import Clock, SystemClock
from bot.sim.auth import INSTRUCTIONS, Verifier
from bot.sim.control import ControlApi, Fault
from bot.sim.engine import Engine
from bot.sim.markets import contract_address
from bot.sim.model import SimError, bad_request, parse_error
from bot.sim.store import Commit, GroupCommit, StateStore

log = logging.getLogger("bot.sim")

JSON = "application/json; charset=utf-8"
UNKNOWN_ERROR = "Unknown error, please check your request or try again later."
MARKET_TYPES = {"SPOT", "PERP", "IPERP", "DATED", "PREDICTION", "RFQ"}
DEPTH_LIMITS = {"5", "10", "20", "50", "100", "500", "1000"}
Handler = Callable[[web.Request, str | None, Any], Awaitable[Any]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),  # str keys, as json.dumps
        status=status,
        content_type=None,
        headers={"Content-Type": JSON},
    )


def _error(err: SimError) -> web.Response:
    if err.plain:
        return web.Response(text=err.message, status=err.status)
    return _json({"code": err.code, "message": err.message}, err.status)


#: Request bodies above this are refused while being read (aiohttp's ``client_max_size``).
MAX_BODY = 1 << 20
WRITE_BATCH = 512
WRITE_HIGH_WATER = 1 << 20
MAX_PENDING = 100_000


_SHORT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def _text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 §5.2) around UTF-8 ``payload``."""
    n = len(payload)
    if n < 126:
        return _SHORT_HEADERS[n] + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def _frame_text(frame: bytes) -> str:
    """The payload of a frame built by :func:`_text_frame`, as text."""
    n = frame[1]
    return frame[2 if n < 126 else 4 if n == 126 else 10 :].decode()


def ws_frame(data: Any) -> bytes:
    """``data`` as a ready-to-send WebSocket text frame: built once, shared by every
    subscriber (orjson: compact JSON, several times faster than ``json.dumps``)."""
    return _text_frame(orjson.dumps(data))


class WsClient:
    """One WebSocket connection: its subscriptions, its account and its outbound queue.

    Engine events are queued without awaiting; one writer task per socket drains the queue, so a
    slow reader never blocks the engine.
    """

    def __init__(
        self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None = None
    ) -> None:
        self.ws = ws
        self.transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.streams: set[str] = set()
        self.account: str | None = None
        self.pending: deque[bytes] = deque()  # complete frames (see :func:`ws_frame`)
        self.wake = asyncio.Event()

    async def writer(self) -> None:
        """Send queued frames; what is already queued goes out in one socket write.

        Frames are plain text frames (no compression, server frames are unmasked), encoded once
        when the event is published, so a batch is joined here and handed to the transport at
        once: one syscall per batch instead of one per frame. Control frames (pings, close)
        stay with aiohttp; a transport write is atomic on the event loop, so they never land
        inside a data frame.
        """
        pending, ws, transport = self.pending, self.ws, self.transport
        while True:
            await self.wake.wait()
            self.wake.clear()
            while pending:
                if ws.closed:
                    return
                if transport is None or transport.is_closing():
                    await ws.send_str(_frame_text(pending.popleft()))
                    continue
                n = min(len(pending), WRITE_BATCH)
                transport.write(b"".join([pending.popleft() for _ in range(n)]))
                if transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await self._drained(transport)

    async def _drained(self, transport: asyncio.WriteTransport) -> None:
        """A slow reader: wait for the socket buffer to drain before writing more."""
        for _ in range(2000):
            if transport.get_write_buffer_size() <= WRITE_HIGH_WATER or self.ws.closed:
                return
            await asyncio.sleep(0.005)

    def push(self, frame: bytes) -> None:
        pending = self.pending
        if len(pending) < MAX_PENDING:  # a reader that stopped reading loses frames
            pending.append(frame)
            if len(pending) == 1:  # the writer drains the queue whole: wake it once
                self.wake.set()


class SimServer:
    """Routes, auth, faults, WebSocket fan-out and the periodic market tasks."""

    def __init__(
        self,
        engine: Engine,
        *,
        auth_status: int = 401,
        tick_interval: float = 0.5,
        publish_interval: float = 1.0,
        random_walk: bool = True,
        state_path: Path | None = None,
        store: StateStore | None = None,
        clock: Clock | None = None,
        control_token: str | None = None,
    ) -> None:
        self.engine = engine
        #: ``None``: no ``/_sim/*`` routes at all (paper mode); otherwise the token they need.
        self.control_token = control_token
        self.clock = clock or SystemClock()
        self.verifier = Verifier(
            auth_status=auth_status, now_ms=lambda: int(self.clock.time() * 1000)
        )
        self.tick_interval = tick_interval
        self.publish_interval = publish_interval
        self.random_walk = random_walk
        self.state_path = state_path
        if store is None and state_path is not None:
            store = StateStore(state_path, markets=random_walk)  # the walk's market continues
            store.load(engine)
        self.store = store
        #: Private frames waiting for a save: ``(stream, account, frame, client)``; a frame
        #: with a client (a subscription's position snapshot) goes to that client only.
        self._held: list[tuple[str, str, bytes, WsClient | None]] = []
        self.commit = GroupCommit(self._prepare_commit)
        self.faults: list[Fault] = []
        self.clients: set[WsClient] = set()
        self.stopping = False
        self.ws_down_until = 0.0
        self.subscribers: dict[str, set[WsClient]] = {}
        #: Streams with at least one subscriber: the engine asks before building each event.
        self.wanted: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        engine.add_listener(self._on_event, self.wanted.__contains__)
        engine.on_account_change = self._schedule_flush
        self.app = web.Application(client_max_size=MAX_BODY)
        self._routes()

    # ------------------------------------------------------------------ routing

    def _routes(self) -> None:
        e = self.engine
        public: dict[str, Handler] = {
            "/api/v1/ping": self._ping,
            "/api/v1/time": self._time,
            "/api/v1/status": self._status,
            "/api/v1/assets": lambda r, a, p: _const(e.assets()),
            "/api/v1/markets": self._markets,
            "/api/v1/wallets": lambda r, a, p: _const(wallets()),
            "/api/v1/market": self._market,
            "/api/v1/collateral": self._collateral_params,
            "/api/v1/securities": lambda r, a, p: _const([]),
            "/api/v1/ticker": lambda r, a, p: _const(e.ticker(_req(p, "symbol"))),
            "/api/v1/tickers": lambda r, a, p: _const([e.ticker(s) for s in e.markets]),
            "/api/v1/depth": self._depth,
            "/api/v1/klines": self._klines,
            "/api/v1/trades": self._trades,
            "/api/v1/trades/history": self._trades,
            "/api/v1/markPrices": lambda r, a, p: _const(e.mark_prices(p.get("symbol"))),
            "/api/v1/fundingRates": self._funding_rates,
            "/api/v1/openInterest": lambda r, a, p: _const(e.open_interest(p.get("symbol"))),
        }
        for path, h in public.items():
            self.app.router.add_get(path, self._wrap(h, None))
        private: dict[tuple[str, str], Handler] = {
            ("GET", "/api/v1/account"): lambda r, a, p: _const(e.account_settings(_acct(a))),
            ("PATCH", "/api/v1/account"): self._account_update,
            ("GET", "/api/v1/account/limits/order"): self._max_qty,
            ("GET", "/api/v1/capital"): lambda r, a, p: _const(e.capital(_acct(a))),
            ("GET", "/api/v1/capital/collateral"): lambda r, a, p: _const(e.collateral(_acct(a))),
            ("GET", "/api/v1/order"): self._get_order,
            ("POST", "/api/v1/order"): self._post_order,
            ("DELETE", "/api/v1/order"): self._delete_order,
            ("GET", "/api/v1/orders"): lambda r, a, p: _const(
                e.open_orders(_acct(a), p.get("symbol"))
            ),
            ("POST", "/api/v1/orders"): self._batch,
            ("DELETE", "/api/v1/orders"): lambda r, a, p: _const(
                e.cancel_all(_acct(a), _req(p, "symbol"), p.get("orderType"))
            ),
            ("GET", "/api/v1/position"): lambda r, a, p: _const(
                e.positions(_acct(a), p.get("symbol"))
            ),
            ("GET", "/wapi/v1/history/fills"): lambda r, a, p: _const(
                e.fill_history(_acct(a), _camel(p))
            ),
            ("GET", "/wapi/v1/history/orders"): lambda r, a, p: _const(
                e.order_history(_acct(a), _camel(p))
            ),
            ("GET", "/wapi/v1/history/funding"): lambda r, a, p: _const(
                e.funding_history(_acct(a), _camel(p))
            ),
            ("GET", "/wapi/v1/history/settlement"): lambda r, a, p: _const(
                e.settlement_history(_acct(a), _camel(p))
            ),
            ("GET", "/wapi/v1/history/position"): lambda r, a, p: _const(
                e.position_history(_acct(a), _camel(p))
            ),
        }
        for (method, path), h in private.items():
            self.app.router.add_route(method, path, self._wrap(h, INSTRUCTIONS[(method, path)]))
        self.app.router.add_get("/ws", self._ws)
        self.app.router.add_get("/", self._ws_or_root)
        if self.control_token is not None:
            ControlApi(self, self.control_token, _json).add_routes(self.app)
        self.app.router.add_route("*", "/{tail:.*}", self._not_found)

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.Response(text="not found", status=404)

    def _wrap(
        self, handler: Handler, instruction: str | None
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            fault = self._take_fault(request)
            if fault is not None:
                if fault.kind == "delay":
                    await asyncio.sleep(fault.ms / 1000)
                elif fault.kind == "http_error":
                    return _json(
                        {
                            "code": "SERVER_ERROR"
                            if fault.status >= 500
                            else "INVALID_CLIENT_REQUEST",
                            "message": UNKNOWN_ERROR,
                        },
                        fault.status,
                    )
                elif fault.kind == "rate_limit":
                    return _json({"code": "TOO_MANY_REQUESTS", "message": "Too many requests"}, 429)
            try:
                params: Any
                if request.method in ("GET",):
                    params = dict(request.query)
                else:
                    raw = await request.read()
                    try:
                        params = json.loads(raw) if raw else {}
                    except json.JSONDecodeError:
                        return web.Response(
                            text="parse request payload error: invalid JSON", status=400
                        )
                    if not isinstance(params, dict | list):
                        return web.Response(
                            text="parse request payload error: expected an object", status=400
                        )
                account: str | None = None
                if instruction is not None:
                    account = self.verifier.verify(request.headers, instruction, params)
                result = await handler(request, account, params)
            except SimError as err:
                if self.store is not None:
                    await self.commit.wait()
                return _error(err)
            if self.store is not None:
                # What the answer says is on disk before the answer leaves; one fsync serves
                # every request waiting at this moment (group commit).
                await self.commit.wait()
            if (
                fault is not None
                and fault.kind == "lost_response"
                and request.transport is not None
            ):
                # The work is done; the response is lost on the wire.
                request.transport.close()
                raise asyncio.CancelledError
            if isinstance(result, web.StreamResponse):
                return result
            return _json(result)

        return route

    def _take_fault(self, request: web.Request) -> Fault | None:
        for f in self.faults:
            if f.kind == "drop_ws":
                continue
            if f.path is not None and f.path != request.path:
                continue
            if f.kind == "lost_response" and f.path is None and request.method == "GET":
                continue  # lost responses are about orders: only mutating requests match
            if f.skip > 0:
                f.skip -= 1
                continue
            f.count -= 1
            if f.count <= 0:
                self.faults.remove(f)
            return f
        return None

    # ------------------------------------------------------------------ handlers

    async def _ping(self, r: web.Request, a: str | None, p: Any) -> web.Response:
        return web.Response(text="pong", content_type="text/plain")

    async def _time(self, r: web.Request, a: str | None, p: Any) -> web.Response:
        return web.Response(text=str(int(self.clock.time() * 1000)), content_type="text/plain")

    async def _status(self, r: web.Request, a: str | None, p: Any) -> Any:
        return {"status": "Ok", "message": None}

    async def _market(self, r: web.Request, a: str | None, p: Any) -> Any:
        m = self.engine.market(_req(p, "symbol"))
        return m.spec.to_wire(self.engine.funding_interval * 1000)

    async def _markets(self, r: web.Request, a: str | None, p: Any) -> Any:
        kinds = r.query.getall("marketType", [])
        for kind in kinds:
            if kind not in MARKET_TYPES:
                raise parse_error("marketType", '"MarketType": Expect a valid enumeration value.')
        rows = self.engine.markets_wire()
        return [m for m in rows if m["marketType"] in kinds] if kinds else rows

    async def _collateral_params(self, r: web.Request, a: str | None, p: Any) -> Any:
        # The spec's PositionImfFunction has one variant, ``sqrt``; base 1 + 0 x sqrt(n) is the
        # constant 1 the identity function meant (collateral needs 100 % initial margin).
        return [
            {
                "symbol": s,
                "imfFunction": {"type": "sqrt", "base": "1", "factor": "0"},
                "mmfFunction": {"type": "sqrt", "base": "1", "factor": "0"},
                "haircutFunction": {
                    "weight": "1" if s == "USDC" else "0.9",
                    "kind": {"type": "identity"},
                },
            }
            for s in [row["symbol"] for row in self.engine.assets()]
        ]

    async def _depth(self, r: web.Request, a: str | None, p: Any) -> Any:
        limit = p.get("limit", "1000")
        if limit not in DEPTH_LIMITS:
            raise parse_error("limit", '"DepthLimit": Expect a valid enumeration value.')
        return self.engine.depth(_req(p, "symbol"), int(limit))

    async def _klines(self, r: web.Request, a: str | None, p: Any) -> Any:
        symbol = _req(p, "symbol")
        interval = _req(p, "interval")
        start = _int(p, "startTime", required=True)
        end = _int(p, "endTime")
        assert start is not None
        return self.engine.klines(symbol, interval, start, end)

    async def _trades(self, r: web.Request, a: str | None, p: Any) -> Any:
        limit = _int(p, "limit") or 100
        offset = _int(p, "offset") or 0
        return self.engine.trades(_req(p, "symbol"), min(limit, 1000), offset)

    async def _funding_rates(self, r: web.Request, a: str | None, p: Any) -> Any:
        limit = _int(p, "limit") or 100
        offset = _int(p, "offset") or 0
        return self.engine.funding_rates(_req(p, "symbol"), min(limit, 10000), offset)

    async def _account_update(self, r: web.Request, a: str | None, p: Any) -> web.Response:
        self.engine.account(_acct(a))
        return web.Response(status=200)

    async def _max_qty(self, r: web.Request, a: str | None, p: Any) -> Any:
        price = p.get("price")
        try:
            px = Decimal(price) if price else None
        except InvalidOperation:
            raise bad_request("Invalid price") from None
        return self.engine.max_order_quantity(
            _acct(a), _req(p, "symbol"), _req(p, "side"), px, p.get("reduceOnly") == "true"
        )

    async def _get_order(self, r: web.Request, a: str | None, p: Any) -> Any:
        return self.engine.get_order(
            _acct(a), _req(p, "symbol"), p.get("orderId"), _int(p, "clientId")
        )

    async def _post_order(self, r: web.Request, a: str | None, p: Any) -> Any:
        if not isinstance(p, dict):
            raise bad_request("Expected an order object")
        return self.engine.execute(_acct(a), p)

    async def _delete_order(self, r: web.Request, a: str | None, p: Any) -> Any:
        if not isinstance(p, dict):
            raise bad_request("Expected an object")
        cid = p.get("clientId")
        return self.engine.cancel(
            _acct(a), _req(p, "symbol"), p.get("orderId"), int(cid) if cid is not None else None
        )

    async def _batch(self, r: web.Request, a: str | None, p: Any) -> Any:
        if not isinstance(p, list):
            raise bad_request("Expected a list of orders")
        out = []
        for body in p:
            try:
                order = self.engine.execute(_acct(a), body)
                out.append({**order, "operation": "Ok"})
            except SimError as err:
                out.append(
                    {
                        "operation": "Err",
                        "code": err.code or "INVALID_CLIENT_REQUEST",
                        "message": err.message,
                    }
                )
        return out

    # ------------------------------------------------------------------ WebSocket

    async def _ws_or_root(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._ws(request)
        return web.Response(text="not found", status=404)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.stopping:
            return web.Response(text="simulator is shutting down", status=503)
        if time.monotonic() < self.ws_down_until:
            return web.Response(text="stream outage (drop_ws fault)", status=503)
        ws = web.WebSocketResponse(heartbeat=60.0, autoping=True, compress=False)
        await ws.prepare(request)
        client = WsClient(ws, request.transport)
        self.clients.add(client)
        writer = asyncio.create_task(client.writer())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._ws_message(client, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
            self.clients.discard(client)
            for stream in client.streams:
                self._unsubscribe(client, stream)
        return ws

    def _subscribe(self, client: WsClient, stream: str) -> None:
        client.streams.add(stream)
        self.subscribers.setdefault(stream, set()).add(client)
        self.wanted.add(stream)

    def _unsubscribe(self, client: WsClient, stream: str) -> None:
        subs = self.subscribers.get(stream)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del self.subscribers[stream]
                self.wanted.discard(stream)

    async def _ws_error(self, client: WsClient, code: int, message: str) -> None:
        client.push(ws_frame({"id": None, "error": {"code": code, "message": message}}))

    async def _ws_message(self, client: WsClient, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            await self._ws_error(client, 4002, "Parse error")
            return
        if not isinstance(msg, dict) or msg.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            await self._ws_error(client, 4002, "Parse error")
            return
        params = msg.get("params")
        if not isinstance(params, list) or not all(isinstance(s, str) for s in params):
            await self._ws_error(client, 4002, "Parse error")
            return
        if msg["method"] == "UNSUBSCRIBE":
            for stream in params:
                client.streams.discard(stream)
                self._unsubscribe(client, stream)
            return
        for stream in params:
            kind = stream.split(".", 1)[0]
            if kind not in (
                "depth",
                "bookTicker",
                "trade",
                "ticker",
                "markPrice",
                "kline",
                "openInterest",
                "liquidation",
                "account",
            ):
                await self._ws_error(client, 4006, "Invalid stream")
                return
            if kind == "depth":
                parts = stream.split(".")
                if len(parts) == 3 and parts[1] not in ("200ms", "600ms", "1000ms"):
                    await self._ws_error(client, 4008, "Invalid depth window")
                    return
        private = [s for s in params if s.startswith("account.")]
        if private:
            sig = msg.get("signature")
            if not (isinstance(sig, list) and len(sig) == 4):
                await self._ws_error(client, 4009, "Missing signature")
                return
            if not all(isinstance(x, str) for x in sig):
                # The live exchange parses all four as strings; numbers are a parse error.
                await self._ws_error(client, 4002, "Parse error")
                return
            headers = {
                "X-API-Key": sig[0],
                "X-Signature": sig[1],
                "X-Timestamp": str(sig[2]),
                "X-Window": str(sig[3]),
            }
            try:
                client.account = self.verifier.verify(headers, "subscribe", {})
            except SimError as err:
                await self._ws_error(client, 4009, err.message)
                return
            self.engine.account(client.account)
        for stream in params:
            # depth.200ms.X is served as the realtime stream: same payloads, same ids.
            key = _normalise_stream(stream)
            self._subscribe(client, key)
            if key.startswith("account.positionUpdate") and client.account is not None:
                sym = key.split(".", 2)[2] if key.count(".") >= 2 else None
                for data in self.engine.position_snapshot(client.account, sym):
                    frame = ws_frame({"stream": stream, "data": data})
                    if self.store is None:
                        client.push(frame)
                    else:  # it describes the state now: sent once that is on disk
                        self._held.append((stream, client.account, frame, client))
                        self._schedule_flush()

    def _on_event(self, stream: str, account: str | None, data: dict[str, Any]) -> None:
        """Fan one engine event out: encoded once, the same bytes queued for every subscriber.

        Runs for every frame the random walk makes, hence inlined (see :func:`ws_frame`).
        """
        subs = self.subscribers.get(stream)
        if not subs:
            return
        payload = orjson.dumps({"stream": stream, "data": data})
        n = len(payload)
        frame = _SHORT_HEADERS[n] + payload if n < 126 else _text_frame(payload)
        if account is None:
            for client in subs:
                if not client.ws.closed:
                    client.push(frame)
        elif self.store is not None:
            # A private frame announces a change: it waits until that change is on disk.
            self._held.append((stream, account, frame, None))
            self._schedule_flush()
        else:
            self._deliver(subs, account, frame)

    @staticmethod
    def _deliver(subs: set[WsClient], account: str | None, frame: bytes) -> None:
        for client in subs:
            if account is not None and client.account != account:
                continue
            if not client.ws.closed:
                client.push(frame)

    def _schedule_flush(self) -> None:
        """Save soon (engine changes made outside a request, e.g. ``Engine.mirror``)."""
        if self.store is not None:
            self.commit.schedule()  # no loop yet: the first request or ``stop`` saves

    def flush(self) -> None:
        """Persist every engine change now (blocking); release the answers and private frames
        waiting. Requests and background steps go through :attr:`commit` instead."""
        self.commit.flush()

    def _prepare_commit(self) -> Commit:
        """One group-commit round: what changed, and the private frames that announce it.

        Requests wait for the round (:class:`GroupCommit`) and private frames are held until
        its write is durable, so no answer ever gets ahead of the disk.
        """
        if self.store is None:
            return Commit()
        write = self.store.prepare(self.engine)
        held, self._held = self._held, []
        return Commit(write, (lambda: self._release(held)) if held else None)

    def _release(self, held: list[tuple[str, str, bytes, WsClient | None]]) -> None:
        for stream, account, frame, client in held:
            if client is not None:
                if not client.ws.closed:
                    client.push(frame)
                continue
            subs = self.subscribers.get(stream)
            if subs:
                self._deliver(subs, account, frame)

    async def drop_ws(self) -> None:
        """Close every WebSocket (the ``drop_ws`` fault)."""
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close(code=1001, message=b"dropped by simulator")

    # ------------------------------------------------------------------ background

    def start_tasks(self) -> None:
        self.stopping = False
        if self.random_walk:
            self._tasks.append(
                asyncio.create_task(self._loop(self.tick_interval, self.engine.step))
            )
        else:
            self._tasks.append(
                asyncio.create_task(self._loop(self.tick_interval, self._settle_only))
            )
        self._tasks.append(
            asyncio.create_task(self._loop(self.publish_interval, self.engine.publish_periodic))
        )

    def _settle_only(self) -> None:
        self.engine.roll_candles()
        self.engine.maybe_settle()

    async def _loop(self, period: float, fn: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                fn()
                self._schedule_flush()
            except Exception:
                log.exception("simulator background step failed")

    async def stop_tasks(self) -> None:
        self.stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        await self.commit.close()
        await self.drop_ws()
        if self.store is not None:
            self.store.close()


def wallets() -> list[dict[str, str]]:
    """``/api/v1/wallets``: the exchange's deposit wallets (made-up, stable addresses)."""
    return [
        {"blockchain": "Solana", "address": contract_address("wallet:Solana")},
        {"blockchain": "Ethereum", "address": "0x" + contract_address("wallet:Ethereum")[:40]},
    ]


def _normalise_stream(stream: str) -> str:
    parts = stream.split(".")
    if parts[0] == "depth" and len(parts) == 3:
        return f"depth.{parts[2]}"
    return stream


async def _const(value: Any) -> Any:
    return value


def _acct(account: str | None) -> str:
    assert account is not None
    return account


def _req(params: Any, name: str) -> str:
    value = params.get(name) if isinstance(params, dict) else None
    if value is None or value == "":
        raise SimError(400, "", f"failed to parse parameter `{name}`: missing", plain=True)
    return str(value)


def _int(params: Any, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise SimError(400, "", f"failed to parse parameter `{name}`: missing", plain=True)
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise parse_error(name, '"i64": invalid digit found in string') from None


_SNAKE = {
    "sort_direction": "sortDirection",
    "fill_type": "fillType",
    "order_id": "orderId",
    "market_type": "marketType",
    "strategy_id": "strategyId",
}


def _camel(params: dict[str, str]) -> dict[str, str]:
    return {_SNAKE.get(k, k): v for k, v in params.items()}
