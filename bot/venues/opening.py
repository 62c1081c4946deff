"""Opening every configured hedge venue (``HEDGE_EXCHANGES``) for the composition root.

Per venue, by mode:

- ``EXCHANGE=sim`` (offline, paper): ``hyperliquid`` is the simulator's Hyperliquid face
  in-process, reached through ccxt's own ``hyperliquid`` class; the first other venue is a
  second Backpack simulator through ccxt's ``backpack`` class (``PaperHedge``); further ones
  are compared only when they can be reached.
- paper on real data: the first venue trades on a paper hedge account over its real book
  (``PaperVenue``); the others are compared, never traded.
- live: each venue's real account through ccxt, with its credentials.

Orders may go only to the venues listed as tradable.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.paper import PaperHedge, PaperHedgeOnReal, PaperHyperliquid
from bot.settings import Settings
from bot.storage.db import Database
from bot.venues.config import VenueSpec
from bot.venues.port import HistoryVenue, Venue, VenueError

log = logging.getLogger("bot.venues")


@dataclass
class OpenVenues:
    """Every hedge venue by id (first = the default hedge) and those orders may go to."""

    venues: dict[str, HistoryVenue] = field(default_factory=dict)
    tradable: set[str] = field(default_factory=set)

    @property
    def first(self) -> HistoryVenue | None:
        return next(iter(self.venues.values()), None)

    def orders(self) -> dict[str, Venue]:
        return {k: v for k, v in self.venues.items() if k in self.tradable}


async def open_hedges(
    s: Settings, db: Database, clock: Clock, stack: contextlib.AsyncExitStack, primary: Venue
) -> OpenVenues:
    out = OpenVenues()
    backpack_sim_used = False
    for i, spec in enumerate(s.hedge_specs()):
        if s.paper and s.exchange == "sim":
            if spec.id == "hyperliquid":
                venue = await _hyperliquid_sim(s, db, clock, stack, seed=s.sim_seed + 1 + i)
            elif not backpack_sim_used:
                backpack_sim_used = True
                venue = await _backpack_sim(s, db, clock, stack, spec)
            else:
                log.warning(
                    "%s: offline, only one ccxt venue beside Hyperliquid is simulated", spec.id
                )
                continue
            out.tradable.add(spec.id)
        elif s.paper and i == 0:
            venue, tradable = await _paper_on_real(
                s, db=db, clock=clock, stack=stack, primary=primary, spec=spec
            )
            if tradable:
                out.tradable.add(spec.id)
        else:
            venue = _ccxt(s, stack, spec, spec.credentials if not s.paper else "")
            if not s.paper:
                out.tradable.add(spec.id)
        out.venues[spec.id] = venue
    return out


def desk_venue(
    s: Settings, stack: contextlib.AsyncExitStack, venue_id: str, credentials: str, url: str
) -> HistoryVenue:
    """A desk's own account on a hedge venue (keys it connected), through ccxt."""
    return _ccxt(s, stack, VenueSpec(venue_id), credentials, url=url)


def _label(spec: VenueSpec) -> str:
    return spec.id if spec.id != "backpack" else "backpack (hedge)"


def _ccxt(
    s: Settings,
    stack: contextlib.AsyncExitStack,
    spec: VenueSpec,
    credentials: str,
    *,
    url: str | None = None,
    label: str | None = None,
    exchange_id: str | None = None,
    own_simulator: bool = False,
) -> HistoryVenue:
    # ccxt costs ~0.5 s and ~60 MB to import: only a bot with a hedge venue pays for it.
    from bot.venues.ccxt_venue import CcxtVenue, make_exchange

    exchange = make_exchange(
        exchange_id or spec.id,
        credentials,
        url or spec.api_url,
        slippage=s.hedge_max_slippage,
        leverage=s.hedge_leverage,
    )
    if own_simulator:
        # The bot's own simulator has no rate limit: ccxt's client-side throttle (Hyperliquid's
        # info weight, ~1 s a call) only made /arb wait ~10 s for a filtered scan.
        exchange.enableRateLimit = False
    venue = CcxtVenue(exchange, label or _label(spec))
    stack.push_async_callback(venue.close)
    return venue


async def _hyperliquid_sim(
    s: Settings, db: Database, clock: Clock, stack: contextlib.AsyncExitStack, *, seed: int
) -> HistoryVenue:
    sim = PaperHyperliquid(s, clock, seed)
    stack.push_async_callback(sim.stop)
    url, credentials = await sim.start(db)
    spec = VenueSpec("hyperliquid")
    return _ccxt(
        s, stack, spec, credentials, url=url, label="hyperliquid (sim)", own_simulator=True
    )


async def _backpack_sim(
    s: Settings, db: Database, clock: Clock, stack: contextlib.AsyncExitStack, spec: VenueSpec
) -> HistoryVenue:
    sim = PaperHedge(s, clock)
    stack.push_async_callback(sim.stop)
    url, credentials = await sim.start(db)
    return _ccxt(
        s,
        stack,
        spec,
        credentials,
        url=url,
        label=f"{spec.id} (sim)",
        exchange_id="backpack",
        own_simulator=True,
    )


async def _paper_on_real(
    s: Settings,
    *,
    db: Database,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    primary: Venue,
    spec: VenueSpec,
) -> tuple[HistoryVenue, bool]:
    from bot.venues.ccxt_venue import CcxtVenue, make_exchange
    from bot.venues.paper_venue import PaperVenue

    real = _ccxt(s, stack, spec, "")
    assert isinstance(real, CcxtVenue)
    book = PaperHedgeOnReal(s, clock, real)
    try:
        url, credentials = await book.start(db, primary)
    except VenueError as exc:
        await book.stop()
        log.warning("hedge venue unreachable (%s): compare-only, no paper hedge trading", exc)
        return real, False
    stack.push_async_callback(book.stop)
    paper = CcxtVenue(make_exchange("backpack", credentials, url), f"{_label(spec)} (paper)")
    stack.push_async_callback(paper.close)
    return PaperVenue(real, paper, book.sync_market), True
