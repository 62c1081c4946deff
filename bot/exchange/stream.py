"""WebSocket plumbing: one supervised connection, coalescing callback dispatch, a local book.

The supervisor is deliberately small (the cryptofeed shape): connect, subscribe, read, and on any
failure back off with jitter and start again, resubscribing everything; a connection that stayed
healthy for a while resets the backoff; a watchdog closes a socket that went silent while open.

Silence alone is not death: a private stream says nothing while nothing trades, and a paper
account's stream is exactly that. So when no frame arrived for ``silence_timeout`` the watchdog
sends a ping; a pong means the socket is healthy and merely quiet, no pong within
``pong_timeout`` means it is dead-but-open, and only then does it reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Handler = Callable[[dict[str, Any]], None]
SignatureFactory = Callable[[], list[str]]


class StreamSupervisor:
    """Owns one WebSocket: (re)connects, (re)subscribes and feeds every frame to ``handler``."""

    def __init__(
        self,
        url: str,
        handler: Handler,
        *,
        logger: logging.Logger,
        signature: SignatureFactory | None = None,
        silence_timeout: float = 30.0,
        pong_timeout: float | None = None,
        healthy_after: float = 30.0,
        max_backoff: float = 10.0,
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.handler = handler
        self.log = logger
        self.signature = signature
        self.silence_timeout = silence_timeout
        self.pong_timeout = silence_timeout if pong_timeout is None else pong_timeout
        self.healthy_after = healthy_after
        self.max_backoff = max_backoff
        self.on_connect = on_connect
        self.public: set[str] = set()
        self.private: set[str] = set()
        self.connected = asyncio.Event()
        self.connections = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, wait: float = 10.0) -> None:
        """Start the supervised task and wait until the first connection is subscribed."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="backpack-ws")
        await asyncio.wait_for(self.connected.wait(), wait)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected.clear()

    async def subscribe(self, streams: list[str], *, private: bool = False) -> None:
        """Add streams; sent now if connected, and again after every reconnect."""
        target = self.private if private else self.public
        new = [s for s in streams if s not in target]
        target.update(new)
        if new and self._ws is not None and self.connected.is_set():
            await self._send_subscribe(self._ws, new, private=private)

    async def _send_subscribe(
        self, ws: ClientConnection, streams: list[str], *, private: bool
    ) -> None:
        for i in range(0, len(streams), 50):
            msg: dict[str, Any] = {"method": "SUBSCRIBE", "params": streams[i : i + 50]}
            if private:
                if self.signature is None:
                    raise RuntimeError("private streams need API keys")
                msg["signature"] = self.signature()
            await ws.send(json.dumps(msg))

    async def _run(self) -> None:
        backoff = 0.2
        down_since: float | None = None
        while True:
            started = time.monotonic()
            try:
                async with websockets.connect(
                    self.url, ping_interval=20, ping_timeout=20, max_size=None, compression=None
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    if self.public:
                        await self._send_subscribe(ws, sorted(self.public), private=False)
                    if self.private:
                        await self._send_subscribe(ws, sorted(self.private), private=True)
                    self.connected.set()
                    if down_since is not None:
                        self.log.info(
                            "exchange stream reconnected after %.1f s",
                            time.monotonic() - down_since,
                        )
                        down_since = None
                    if self.on_connect is not None:
                        await self.on_connect()
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: reconnect
                self.log.warning("exchange stream disconnected: %s", type(exc).__name__)
            finally:
                if down_since is None:
                    down_since = time.monotonic()
                self._ws = None
                self.connected.clear()
            if time.monotonic() - started > self.healthy_after:
                backoff = 0.2
            delay = random.uniform(0, backoff)
            backoff = min(self.max_backoff, backoff * 2)
            await asyncio.sleep(delay)

    async def _read(self, ws: ClientConnection) -> None:
        handler = self.handler
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # races a frame arriving, and then stop() would wait forever.
                async with asyncio.timeout(self.silence_timeout):
                    raw = await ws.recv()
            except TimeoutError:
                if await self._answers_ping(ws):
                    continue  # healthy, merely quiet
                self.log.warning(
                    "exchange stream silent for %g s and no pong within %g s; reconnecting",
                    self.silence_timeout,
                    self.pong_timeout,
                )
                # No closing handshake with a peer that does not answer: it would wait out
                # close_timeout before the reconnect could start.
                ws.transport.abort()
                return
            try:
                handler(json.loads(raw))
            except Exception:
                self.log.exception("bad stream message dropped")

    async def _answers_ping(self, ws: ClientConnection) -> bool:
        """Whether the peer answers a ping within ``pong_timeout`` (frames keep queueing).

        A socket that closed meanwhile counts as answering: the next ``recv`` raises and the
        reconnect is logged as the disconnect it is, not as silence.
        """
        try:
            async with asyncio.timeout(self.pong_timeout):
                pong = await ws.ping()
                await pong
        except TimeoutError:
            return False
        except websockets.ConnectionClosed:
            return True
        return True


PriceCallback = Callable[[str, Decimal], Awaitable[None]]


class CallbackDispatcher:
    """Runs one async callback without ever blocking the reader.

    Updates are coalesced per symbol: a slow callback sees the latest price of each symbol, never
    a backlog, and the reader only does a dict assignment.
    """

    def __init__(self, callback: PriceCallback, logger: logging.Logger) -> None:
        self.callback = callback
        self.log = logger
        self._pending: dict[str, Decimal] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def push(self, symbol: str, price: Decimal) -> None:
        self._pending[symbol] = price
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="price-callback")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            for symbol, price in batch.items():
                try:
                    await self.callback(symbol, price)
                except Exception:
                    self.log.exception("price callback failed for %s", symbol)


class LocalOrderBook:
    """An order book kept in sync from depth deltas with the U/u recipe (fact sheet §5.2).

    Deltas arriving before the REST snapshot are buffered; deltas with ``u <= lastUpdateId`` are
    dropped; the first applied delta must span ``lastUpdateId + 1``; after that each ``U`` must
    be the previous ``u + 1`` or the book is marked out of sync.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_update_id: int | None = None
        self.synced = False
        self.updated_at = 0.0  # time.monotonic() of the last snapshot or applied delta
        self._buffer: list[dict[str, Any]] = []

    def on_delta(self, data: dict[str, Any]) -> None:
        if self.last_update_id is None:
            self._buffer.append(data)
            return
        self._apply(data)

    def on_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        self.last_update_id = int(snapshot["lastUpdateId"])
        self.synced = True
        self.updated_at = time.monotonic()
        buffered, self._buffer = self._buffer, []
        for data in buffered:
            self._apply(data)

    def _apply(self, data: dict[str, Any]) -> None:
        assert self.last_update_id is not None
        first, last = int(data["U"]), int(data["u"])
        if last <= self.last_update_id:
            return
        if first > self.last_update_id + 1:
            self.synced = False  # a gap: the caller must resync from REST
            return
        for p, q in data.get("b", ()):
            _set(self.bids, Decimal(p), Decimal(q))
        for p, q in data.get("a", ()):
            _set(self.asks, Decimal(p), Decimal(q))
        self.last_update_id = last
        self.updated_at = time.monotonic()

    def fresh(self, max_age: float) -> bool:
        """In sync, both sides non-empty, and updated within ``max_age`` seconds."""
        return (
            self.synced
            and bool(self.bids)
            and bool(self.asks)
            and time.monotonic() - self.updated_at <= max_age
        )

    def reset(self) -> None:
        self.last_update_id = None
        self.synced = False
        self._buffer.clear()

    def top(self, n: int = 10) -> dict[str, list[list[Decimal]]]:
        """Best-first levels on both sides."""
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return {"bids": [[p, q] for p, q in bids], "asks": [[p, q] for p, q in asks]}


def _set(side: dict[Decimal, Decimal], price: Decimal, qty: Decimal) -> None:
    if qty == 0:
        side.pop(price, None)
    else:
        side[price] = qty
