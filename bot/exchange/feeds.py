"""The live side of the client: one supervised WebSocket, the price caches it keeps fresh, the
local order books, and the routing of typed stream events to callbacks.

:class:`Feeds` owns all of it; :class:`~bot.exchange.client.BackpackAPI` shares its caches
(``prices``, ``mark_prices``, ``funding_rates``, ``next_funding``, ``best_bid_ask``,
``last_update``, ``books``) under the seed guide's attribute names. Frames are parsed by
:func:`bot.exchange.events.parse_frame`; reconnect, backoff and the watchdog live in
:class:`~bot.exchange.stream.StreamSupervisor`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bot.exchange.auth import Signer
from bot.exchange.events import (
    AccountUpdate,
    BestBidAsk,
    DepthDelta,
    MarkPrice,
    StreamError,
    Trade,
    parse_frame,
)
from bot.exchange.stream import CallbackDispatcher, LocalOrderBook, PriceCallback, StreamSupervisor

EventCallback = Callable[[dict[str, Any]], Awaitable[None]]


class Feeds:
    """Streams → caches and callbacks. ``snapshot(symbol)`` fetches a REST depth snapshot (the
    local books resync from it); ``signer``/``now_ms`` sign the private subscription."""

    def __init__(
        self,
        ws_url: str,
        *,
        snapshot: Callable[[str], Awaitable[dict[str, Any]]],
        signer: Signer | None,
        now_ms: Callable[[], int],
        logger: logging.Logger,
        silence_timeout: float = 15.0,
    ) -> None:
        self.logger = logger
        self._fetch_snapshot = snapshot
        self._signer = signer
        self._now_ms = now_ms
        self.prices: dict[str, Decimal] = {}
        self.mark_prices: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {}
        self.next_funding: dict[str, int] = {}
        self.best_bid_ask: dict[str, tuple[Decimal, Decimal]] = {}
        self.last_update: dict[str, float] = {}
        self.books: dict[str, LocalOrderBook] = {}
        self.price_callbacks: list[CallbackDispatcher] = []
        self._funding_callbacks: list[CallbackDispatcher] = []
        self._order_callbacks: list[EventCallback] = []
        self._position_callbacks: list[EventCallback] = []
        self._event_tasks: set[asyncio.Task[None]] = set()
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self._stream = StreamSupervisor(
            ws_url,
            self.on_frame,
            logger=logger,
            signature=self._ws_signature if signer else None,
            silence_timeout=silence_timeout,
            on_connect=self._on_stream_connect,
        )

    async def close(self) -> None:
        """Stop the stream, the callback dispatchers and any running callbacks."""
        await self._stream.stop()
        for d in (*self.price_callbacks, *self._funding_callbacks):
            await d.stop()
        for t in list(self._event_tasks):
            t.cancel()

    async def start_prices(self, streams: list[str]) -> None:
        await self._stream.subscribe(streams)
        for d in (*self.price_callbacks, *self._funding_callbacks):
            d.start()
        await self._stream.start()

    async def stop(self) -> None:
        await self._stream.stop()

    @property
    def connected(self) -> bool:
        return self._stream.connected.is_set()

    @property
    def connections(self) -> int:
        return self._stream.connections

    def on_price(self, callback: PriceCallback) -> None:
        d = CallbackDispatcher(callback, self.logger)
        self.price_callbacks.append(d)
        if self._stream.running:
            d.start()

    def on_funding(self, callback: PriceCallback) -> None:
        d = CallbackDispatcher(callback, self.logger)
        self._funding_callbacks.append(d)
        if self._stream.running:
            d.start()

    async def on_account(self, channel: str, callback: EventCallback) -> None:
        """Private ``account.orderUpdate`` (``channel="order"``) or ``account.positionUpdate``."""
        if channel == "order":
            self._order_callbacks.append(callback)
            await self._stream.subscribe(["account.orderUpdate"], private=True)
        else:
            self._position_callbacks.append(callback)
            await self._stream.subscribe(["account.positionUpdate"], private=True)
        if not self._stream.running:
            await self._stream.start()

    async def book(self, symbol: str) -> LocalOrderBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = LocalOrderBook(symbol)
            await self._stream.subscribe([f"depth.{symbol}"])
            if not self._stream.running:
                await self._stream.start()
            await self._snapshot(book)
        return book

    async def _snapshot(self, book: LocalOrderBook) -> None:
        book.on_snapshot(await self._fetch_snapshot(book.symbol))

    def _ws_signature(self) -> list[str]:
        assert self._signer is not None
        ts = self._now_ms()
        window = 5000
        sig = self._signer.sign(f"instruction=subscribe&timestamp={ts}&window={window}")
        return [self._signer.api_key, sig, str(ts), str(window)]

    async def _on_stream_connect(self) -> None:
        for book in self.books.values():
            book.reset()
            self._spawn(self._snapshot(book))
        for cb in self.on_reconnect:
            self._spawn(cb())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._event_tasks.add(task)
        task.add_done_callback(self._event_done)

    def _event_done(self, task: asyncio.Task[None]) -> None:
        self._event_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error("stream callback failed: %r", task.exception())

    def on_frame(self, msg: dict[str, Any]) -> None:
        """Hot path: one parsed frame from the socket → its typed event → caches, callbacks."""
        event = parse_frame(msg)
        if isinstance(event, Trade):
            self._price(event.symbol, event.price)
        elif isinstance(event, MarkPrice):
            sym = event.symbol
            self.mark_prices[sym] = event.mark
            if event.funding_rate is not None:
                self.funding_rates[sym] = event.funding_rate
                if event.next_funding_ms is not None:
                    self.next_funding[sym] = event.next_funding_ms
                for d in self._funding_callbacks:
                    d.push(sym, event.funding_rate)
            self.last_update[sym] = time.monotonic()
        elif isinstance(event, BestBidAsk):
            self.best_bid_ask[event.symbol] = (event.bid, event.ask)
        elif isinstance(event, DepthDelta):
            book = self.books.get(event.symbol)
            if book is not None:
                book.on_delta(event.data)
                if book.last_update_id is not None and not book.synced:
                    book.reset()
                    self._spawn(self._snapshot(book))
        elif isinstance(event, AccountUpdate):
            targets = (
                self._order_callbacks if event.channel == "order" else self._position_callbacks
            )
            for cb in targets:
                self._spawn(cb(event.data))
        elif isinstance(event, StreamError):
            self.logger.warning("stream error: %s", event.message)

    def _price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price
        self.last_update[symbol] = time.monotonic()
        for d in self.price_callbacks:
            d.push(symbol, price)
