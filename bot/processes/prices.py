"""Public prices into the ``prices`` table, throttled: the stream ticks many times a second,
the table is written at most once a second per symbol.

The stream's callbacks only note the latest price and funding rate in memory (no I/O on the
tick path); one task upserts the symbols that changed since the last write, in one statement,
then waits out the rest of the second. Readers: :func:`bot.storage.prices.latest_prices`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from bot.clock import Clock, now_ms
from bot.storage.db import Database
from bot.storage.prices import Quote, write_prices

log = logging.getLogger("bot.ingest.prices")

#: The least time between two writes (of any symbol, so of each symbol too), seconds.
PRICE_EVERY = 1.0


class PriceWriter:
    """The latest quote per symbol, written to the database at most every ``every`` seconds."""

    def __init__(self, db: Database, clock: Clock, *, every: float = PRICE_EVERY) -> None:
        self.db = db
        self.clock = clock
        self.every = every
        self.prices: dict[str, Decimal] = {}
        self.funding: dict[str, Decimal] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        #: Statements and rows written (one statement per flush).
        self.writes = 0
        self.rows = 0

    def on_price(self, symbol: str, price: Decimal) -> None:
        """A tick: remembered, written with the next flush."""
        self.prices[symbol] = price
        self._dirty.add(symbol)
        self._wake.set()

    def on_funding(self, symbol: str, rate: Decimal) -> None:
        """A ``markPrice`` update's funding rate: remembered, written with the symbol's price."""
        if self.funding.get(symbol) != rate:
            self.funding[symbol] = rate
            self._dirty.add(symbol)
            self._wake.set()

    async def flush(self) -> int:
        """Write every symbol that changed since the last flush; how many were written."""
        dirty, self._dirty = self._dirty, set()
        self._wake.clear()
        at = now_ms(self.clock)
        quotes = {
            s: Quote(s, self.prices[s], self.funding.get(s), at) for s in dirty if s in self.prices
        }
        if not quotes:
            return 0
        try:
            await write_prices(self.db, quotes)
        except BaseException:
            self._dirty |= dirty  # written with the next flush, not lost
            raise
        self.writes += 1
        self.rows += len(quotes)
        return len(quotes)

    async def run(self) -> None:
        """The writing loop (its owner cancels it): a change is written at once when the last
        write is at least ``every`` old, else when it is; a failed write is retried then."""
        last = float("-inf")
        while True:
            await self._wake.wait()
            wait = last + self.every - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            last = time.monotonic()
            try:
                await self.flush()
            except Exception as exc:  # the database is back soon; the quotes are kept
                log.warning("could not write prices: %s", exc)
                self._wake.set()
