"""Cross-venue funding: the same perp on Backpack and the hedge venue, compared honestly.

Reads both venues through the venue port and returns :class:`bot.venues.spread.Edge` values
(pure arithmetic in :mod:`bot.venues.spread`); no Telegram types here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from bot.clock import Clock, now_ms
from bot.exchange.errors import InvalidSymbol
from bot.venues.pairs import Pair, match
from bot.venues.port import Venue, VenueError
from bot.venues.spread import Edge, Leg, edge

log = logging.getLogger("bot.arb")

#: At most this many requests in flight per venue while scanning every pair.
SCAN_CONCURRENCY = 6
BOOK_DEPTH = 50


@dataclass(frozen=True, slots=True)
class ArbConfig:
    notional: Decimal  # USDC per leg, for the net edge
    horizon_hours: Decimal  # holding horizon the edge is computed over
    allow: Collection[str] = ()  # HEDGE_SYMBOLS


@dataclass(frozen=True, slots=True)
class Scan:
    """The best spreads now, and how many pairs could not be read (a venue error)."""

    edges: list[Edge]
    pairs: int
    failed: int


class ArbService:
    """Compare funding on ``primary`` (Backpack) and ``hedge`` (a ccxt venue)."""

    def __init__(self, primary: Venue, hedge: Venue, config: ArbConfig, clock: Clock) -> None:
        self.primary = primary
        self.hedge = hedge
        self.config = config
        self.clock = clock
        self._gate = asyncio.Semaphore(SCAN_CONCURRENCY)

    async def pairs(self) -> list[Pair]:
        primary, hedge = await asyncio.gather(self.primary.markets(), self.hedge.markets())
        return match(primary, hedge, self.config.allow)

    async def pair(self, text: str) -> Pair:
        """``btc``, ``BTC_USDC_PERP`` or ``BTC/USDT:USDT`` → the pair for that base asset."""
        want = text.strip().upper()
        for p in await self.pairs():
            if want in (p.base, p.primary.symbol.upper(), p.hedge.symbol.upper()):
                return p
        raise InvalidSymbol(
            f"no {text.strip()} perp on both backpack and {self.hedge.name}",
            code="INVALID_SYMBOL",
        )

    async def _leg(self, venue: Venue, pair: Pair, hedge: bool) -> Leg:
        market = pair.hedge if hedge else pair.primary
        async with self._gate:
            funding, book = await asyncio.gather(
                venue.funding(market.symbol), venue.order_book(market.symbol, BOOK_DEPTH)
            )
        return Leg(venue.name, market, funding, book)

    async def edge_of(self, pair: Pair, notional: Decimal | None = None) -> Edge:
        a, b = await asyncio.gather(
            self._leg(self.primary, pair, False), self._leg(self.hedge, pair, True)
        )
        return edge(
            pair.base,
            a,
            b,
            notional=notional or self.config.notional,
            horizon_hours=self.config.horizon_hours,
            now_ms=now_ms(self.clock),
        )

    async def compare(self, text: str) -> tuple[Pair, Edge]:
        pair = await self.pair(text)
        return pair, await self.edge_of(pair)

    async def spreads(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """The spread APR now for each of these Backpack perps that has a pair (spread alerts);
        a pair that cannot be read is left out this time."""
        pairs = [p for p in await self.pairs() if p.primary.symbol in symbols]
        results = await asyncio.gather(*(self.edge_of(p) for p in pairs), return_exceptions=True)
        out: dict[str, Decimal] = {}
        for p, r in zip(pairs, results, strict=True):
            if isinstance(r, VenueError):
                log.warning("spread of %s not read: %s", p.base, r)
            elif isinstance(r, BaseException):
                raise r
            else:
                out[p.primary.symbol] = r.spread_apr
        return out

    async def scan(self, top: int | None = 10, notional: Decimal | None = None) -> Scan:
        """Every matched pair (the best ``top``), best spread APR first (ties: the better net
        edge), each for ``notional`` USDC a leg (``ARB_NOTIONAL`` by default)."""
        pairs = await self.pairs()
        results = await asyncio.gather(
            *(self.edge_of(p, notional) for p in pairs), return_exceptions=True
        )
        edges: list[Edge] = []
        failed = 0
        for p, r in zip(pairs, results, strict=True):
            if isinstance(r, VenueError):
                log.warning("arb scan: %s skipped: %s", p.base, r)
                failed += 1
            elif isinstance(r, BaseException):
                raise r
            else:
                edges.append(r)
        edges.sort(key=lambda e: (e.spread_apr, e.net), reverse=True)
        return Scan(edges=edges[:top] if top else edges, pairs=len(pairs), failed=failed)
