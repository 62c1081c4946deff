"""Cross-venue funding: the same perp on Backpack and every hedge venue, compared honestly.

Reads the venues through the venue port and returns :class:`bot.venues.spread.Edge` values
(pure arithmetic in :mod:`bot.venues.spread`); no Telegram types here. With several hedge
venues (``HEDGE_EXCHANGES``) each asset is paired on every venue that lists it and the best
venue is the one whose edge against Backpack is largest net of both venues' fees and the
slippage of the size; a hedge market under ``ARB_MIN_OPEN_INTEREST`` / ``ARB_MIN_VOLUME_24H``
is left out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bot.clock import Clock, now_ms
from bot.exchange.errors import InvalidSymbol
from bot.venues.pairs import Pair, match
from bot.venues.port import HEDGE, Venue, VenueError
from bot.venues.spread import Edge, Leg, edge
from bot.venues.stability import Stability, hourly_spread, stability

log = logging.getLogger("bot.arb")

#: At most this many requests in flight while scanning every pair.
SCAN_CONCURRENCY = 6
BOOK_DEPTH = 50
HISTORY_DAYS = 30
#: A venue's funding history is read again after this long (it changes once an interval).
HISTORY_TTL_SECONDS = 3600.0
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ArbConfig:
    notional: Decimal  # USDC per leg, for the net edge
    horizon_hours: Decimal  # holding horizon the edge is computed over
    allow: Collection[str] = ()  # HEDGE_SYMBOLS
    min_open_interest: Decimal = Decimal(0)  # ARB_MIN_OPEN_INTEREST, USD, hedge market
    min_volume_24h: Decimal = Decimal(0)  # ARB_MIN_VOLUME_24H, USD, hedge market


@dataclass(frozen=True, slots=True)
class Scan:
    """The best spreads now (the best venue per asset), how many pairs were compared, how
    many could not be read (a venue error) and how many the filters left out."""

    edges: list[Edge]
    pairs: int
    failed: int
    filtered: int = 0
    #: The spread's stability per ``(asset, venue id)`` for the edges shown.
    stability: dict[tuple[str, str], Stability] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VenueEdge:
    """One hedge venue's comparison for an asset (``/funding BTC``): the edge, or why not."""

    venue_id: str
    venue: str
    edge: Edge | None
    problem: str | None = None


class ArbService:
    """Compare funding on ``primary`` (Backpack) and each hedge venue (ccxt)."""

    def __init__(
        self,
        primary: Venue,
        hedge: Venue,
        config: ArbConfig,
        clock: Clock,
        *,
        hedges: Mapping[str, Venue] | None = None,
        tradable: Collection[str] | None = None,
    ) -> None:
        """``hedge`` is the default hedge venue; ``hedges`` every hedge venue by id (the
        default among them), ``tradable`` the ids orders may go to (all by default)."""
        self.primary = primary
        self.hedge = hedge
        self.hedges: dict[str, Venue] = dict(hedges) if hedges else {HEDGE: hedge}
        self.default_id = next(
            (k for k, v in self.hedges.items() if v is hedge), next(iter(self.hedges))
        )
        self.tradable = frozenset(self.hedges if tradable is None else tradable)
        self.config = config
        self.clock = clock
        self._gate = asyncio.Semaphore(SCAN_CONCURRENCY)
        self._history: dict[tuple[str, str], tuple[float, list[tuple[int, Decimal]]]] = {}

    def venue(self, venue_id: str | None) -> Venue:
        """The hedge venue ``venue_id`` names (``None``/``HEDGE``: the default one)."""
        if venue_id in (None, HEDGE):
            return self.hedge
        found = self.hedges.get(str(venue_id))
        if found is None:
            raise VenueError(str(venue_id), "is not among HEDGE_EXCHANGES")
        return found

    def _id(self, venue_id: str | None) -> str:
        return self.default_id if venue_id in (None, HEDGE) else str(venue_id)

    async def pairs(self, venue_id: str | None = None) -> list[Pair]:
        """Backpack's perps matched with ``venue_id``'s (the default venue's)."""
        primary, hedge = await asyncio.gather(
            self.primary.markets(), self.venue(venue_id).markets()
        )
        return match(primary, hedge, self.config.allow)

    async def pair(self, text: str, venue_id: str | None = None) -> Pair:
        """``btc``, ``BTC_USDC_PERP`` or ``BTC/USDT:USDT`` → the pair for that base asset."""
        want = text.strip().upper()
        for p in await self.pairs(venue_id):
            if want in (p.base, p.primary.symbol.upper(), p.hedge.symbol.upper()):
                return p
        raise InvalidSymbol(
            f"no {text.strip()} perp on both backpack and {self.venue(venue_id).name}",
            code="INVALID_SYMBOL",
        )

    async def _leg(self, venue: Venue, pair: Pair, venue_id: str | None) -> Leg:
        market = pair.hedge if venue_id is not None else pair.primary
        async with self._gate:
            funding, book = await asyncio.gather(
                venue.funding(market.symbol), venue.order_book(market.symbol, BOOK_DEPTH)
            )
        return Leg(venue.name, market, funding, book, venue_id)

    async def edge_of(
        self, pair: Pair, notional: Decimal | None = None, venue_id: str | None = None
    ) -> Edge:
        vid = self._id(venue_id)
        a, b = await asyncio.gather(
            self._leg(self.primary, pair, None), self._leg(self.venue(vid), pair, vid)
        )
        return edge(
            pair.base,
            a,
            b,
            notional=notional or self.config.notional,
            horizon_hours=self.config.horizon_hours,
            now_ms=now_ms(self.clock),
        )

    async def compare(self, text: str, venue_id: str | None = None) -> tuple[Pair, Edge]:
        pair = await self.pair(text, venue_id)
        return pair, await self.edge_of(pair, venue_id=venue_id)

    async def compare_all(self, text: str) -> list[VenueEdge]:
        """``/funding BTC``: the asset on every hedge venue, best net edge first; a venue that
        does not list it or cannot be read says so."""

        async def one(vid: str) -> VenueEdge:
            name = self.hedges[vid].name
            try:
                return VenueEdge(vid, name, (await self.compare(text, vid))[1])
            except InvalidSymbol:
                return VenueEdge(vid, name, None, "not listed")
            except VenueError as exc:
                return VenueEdge(vid, name, None, exc.message)

        rows = await asyncio.gather(*(one(v) for v in self.hedges))
        return sorted(rows, key=lambda r: (r.edge is None, -(r.edge.net if r.edge else 0)))

    async def spreads(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """The spread APR now for each of these Backpack perps that has a pair on the default
        venue (spread alerts); a pair that cannot be read is left out this time."""
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

    async def _passes(self, vid: str, symbol: str) -> bool:
        cfg = self.config
        if not cfg.min_open_interest and not cfg.min_volume_24h:
            return True
        stats = getattr(self.hedges[vid], "market_stats", None)
        if stats is None:
            return False  # a filter is set and the venue cannot say: left out, not guessed
        open_interest, volume = await stats(symbol)
        return (open_interest or 0) >= cfg.min_open_interest and (volume or 0) >= cfg.min_volume_24h

    async def scan(
        self,
        top: int | None = 10,
        notional: Decimal | None = None,
        *,
        tradable_only: bool = False,
        with_stability: bool = False,
    ) -> Scan:
        """Every asset paired on any hedge venue, with its best venue (the largest net edge;
        ties: the better spread), best spread APR first, each for ``notional`` USDC a leg
        (``ARB_NOTIONAL`` by default). ``tradable_only``: venues orders may go to."""
        venues = [v for v in self.hedges if not tradable_only or v in self.tradable]
        matched = await asyncio.gather(*(self.pairs(v) for v in venues))
        jobs = [(v, p) for v, ps in zip(venues, matched, strict=True) for p in ps]
        passes = await asyncio.gather(
            *(self._passes(v, p.hedge.symbol) for v, p in jobs), return_exceptions=True
        )
        kept = []
        for job, ok in zip(jobs, passes, strict=True):
            if isinstance(ok, VenueError):
                log.warning("arb scan: %s on %s skipped: %s", job[1].base, job[0], ok)
            elif isinstance(ok, BaseException):
                raise ok
            elif ok:
                kept.append(job)
        results = await asyncio.gather(
            *(self.edge_of(p, notional, v) for v, p in kept), return_exceptions=True
        )
        best: dict[str, Edge] = {}
        failed = 0
        for (v, p), r in zip(kept, results, strict=True):
            if isinstance(r, VenueError):
                log.warning("arb scan: %s on %s skipped: %s", p.base, v, r)
                failed += 1
            elif isinstance(r, BaseException):
                raise r
            elif p.base not in best or (r.problem is None, r.net, r.spread_apr) > (
                best[p.base].problem is None,
                best[p.base].net,
                best[p.base].spread_apr,
            ):
                best[p.base] = r
        edges = sorted(best.values(), key=lambda e: (e.spread_apr, e.net), reverse=True)
        edges = edges[:top] if top else edges
        steady = await self._stabilities(edges) if with_stability else {}
        return Scan(edges, len(jobs), failed, len(jobs) - len(kept), steady)

    async def _stabilities(self, edges: list[Edge]) -> dict[tuple[str, str], Stability]:
        results = await asyncio.gather(*(self.stability(e) for e in edges), return_exceptions=True)
        out = {}
        for e, r in zip(edges, results, strict=True):
            if isinstance(r, BaseException):
                log.info("stability of %s not read: %s", e.base, r)
            else:
                out[(e.base, e.hedge.venue_id or "")] = r
        return out

    async def spread_chart(
        self, text: str, venue_id: str | None, days: int
    ) -> tuple[Edge, list[tuple[int, Decimal]], Stability]:
        """``/chart spread BTC hyperliquid 7d``: the hourly spread over ``days`` from both
        venues' settled funding, with its stability."""
        if venue_id is not None and venue_id not in self.hedges and venue_id != HEDGE:
            known = ", ".join(self.hedges)
            raise VenueError(venue_id, f"is not a configured hedge venue (have: {known})")
        _pair, e = await self.compare(text, venue_id)
        now = now_ms(self.clock)
        series = await self.spread_history(e, now - days * _DAY_MS, now)
        return e, series, stability(series, now)

    async def stability(self, e: Edge) -> Stability:
        """Median and spread of the last 3/7/30 days, and how long the current sign held."""
        now = now_ms(self.clock)
        series = await self.spread_history(e, now - HISTORY_DAYS * _DAY_MS, now)
        return stability(series, now)

    async def spread_history(
        self, e: Edge, since_ms: int, until_ms: int
    ) -> list[tuple[int, Decimal]]:
        """``(hour ms, APR(Backpack) − APR(hedge))`` from both venues' settled funding."""
        ours = e.long if e.hedge is e.short else e.short
        theirs = e.hedge
        hedge = self.venue(theirs.venue_id)
        a, b = await asyncio.gather(
            self._rates(self.primary, "backpack", ours.market.symbol, since_ms),
            self._rates(hedge, theirs.venue_id or "", theirs.market.symbol, since_ms),
        )
        return hourly_spread(
            a,
            ours.funding.interval_hours,
            b,
            theirs.funding.interval_hours,
            since_ms=since_ms,
            until_ms=until_ms,
        )

    async def _rates(
        self, venue: Venue, key: str, symbol: str, since_ms: int
    ) -> list[tuple[int, Decimal]]:
        history = getattr(venue, "rate_history", None)
        if history is None:
            raise VenueError(venue.name, "no funding history")
        cached = self._history.get((key, symbol))
        if cached is not None and time.monotonic() - cached[0] < HISTORY_TTL_SECONDS:
            return cached[1]
        async with self._gate:
            rows: list[tuple[int, Decimal]] = await history(symbol, since_ms)
        self._history[(key, symbol)] = (time.monotonic(), rows)
        return rows
