"""The ``cross`` strategy's reads: edges on both venues, both legs' real positions, margin.

:class:`bot.services.strategy.control.StrategyService` owns the cycle, proposals, execution and
books (the same single-use ✅, journaled order path and unwind as every other strategy kind); this
desk supplies what only ``cross`` needs. The rules themselves are pure
(:func:`bot.strategy.cross.cross_actions`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.render import money
from bot.services.strategy.arb import ArbService
from bot.storage.strategy import StrategyStore
from bot.strategy.cross import close_action, cross_actions, open_action
from bot.strategy.model import ZERO, Action, Candidate, Leg, Portfolio, Side, StrategyConfig
from bot.venues.port import HEDGE, HistoryVenue, Venue, VenueError, VenueMarket, VenuePosition

log = logging.getLogger("bot.cross")

#: Each leg must be fully collateralised on its own venue: the two venues cannot share
#: margin, and a move against one leg is paid there (liquidation of one leg is the risk).
MARGIN_PER_NOTIONAL = Decimal(1)


@dataclass(frozen=True, slots=True)
class PairView:
    """Both legs of one asset held on the two venues (for /positions)."""

    base: str
    ours: VenuePosition
    theirs: VenuePosition
    hedge_venue: str

    @property
    def delta(self) -> Decimal:
        """Net base quantity across the venues (0 = hedged)."""
        return self.ours.quantity + self.theirs.quantity

    @staticmethod
    def distance(p: VenuePosition) -> Decimal | None:
        """How far the mark may move before this leg is liquidated, as a fraction."""
        if p.mark is None or p.liquidation_price is None or p.mark <= 0:
            return None
        return abs(p.mark - p.liquidation_price) / p.mark


@dataclass(frozen=True, slots=True)
class CrossPlan:
    actions: tuple[Action, ...]
    candidates: tuple[Candidate, ...]
    warnings: tuple[str, ...] = ()


def _hedge_leg_venue(action: Action) -> str | None:
    """The hedge venue an entry's second leg goes to."""
    return next((leg.venue for leg in action.legs if leg.venue is not None), None)


def _down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


class CrossDesk:
    """Reads both venues for the cross strategy (no Telegram, no orders)."""

    def __init__(
        self, arb: ArbService, account: BackpackAPI, hedge: HistoryVenue, store: StrategyStore
    ) -> None:
        self.arb = arb
        self.account = account
        self.hedge = hedge
        self.store = store
        self._told: set[str] = set()  # warnings already given: said once, not every cycle

    async def plan(
        self, config: StrategyConfig, portfolio: Portfolio, now_ms: int, *, auto: bool
    ) -> CrossPlan:
        """Exits, entries (when ``config.max_positions`` leaves room) and delta repairs."""
        scan = await self.arb.scan(top=None, notional=config.trade_notional, tradable_only=True)
        actions, candidates = cross_actions(scan.edges, portfolio, config, now_ms)
        warnings, repairs = await self.deltas(portfolio, auto=auto)
        troubled = {a.symbol for a in repairs}
        actions = [a for a in actions if a.symbol not in troubled] + repairs
        for a in [a for a in actions if a.kind == "open"]:
            problem = await self.margin_problem(config.trade_notional, _hedge_leg_venue(a))
            if problem is not None:
                actions = [x for x in actions if x is not a]
                warnings.append(f"no new cross entry: {problem}")
        fresh = tuple(w for w in warnings if w not in self._told)
        self._told = set(warnings)
        return CrossPlan(tuple(actions), tuple(candidates), fresh)

    async def candidates(
        self, config: StrategyConfig, portfolio: Portfolio, now_ms: int
    ) -> tuple[Candidate, ...]:
        """Every pair's evaluation now (a read: nothing is changed or repaired)."""
        scan = await self.arb.scan(top=None, notional=config.trade_notional, tradable_only=True)
        return tuple(cross_actions(scan.edges, portfolio, config, now_ms)[1])

    def _hedge(self, venue_id: str | None) -> Venue:
        """The hedge venue a position or an edge names (``None``/``HEDGE``: the default)."""
        return self.hedge if venue_id in (None, HEDGE) else self.arb.venue(venue_id)

    async def margin_problem(self, notional: Decimal, venue_id: str | None = None) -> str | None:
        """Why a leg of ``notional`` USDC cannot be margined on Backpack or on the hedge venue
        ``venue_id`` (the default one), or None."""
        need = notional * MARGIN_PER_NOTIONAL
        hedge = self._hedge(venue_id)
        collateral, balances, markets = await asyncio.gather(
            self.account.get_collateral(), hedge.balances(), hedge.markets()
        )
        ours = Decimal(str(collateral.get("netEquityAvailable") or 0))
        if ours < need:
            return f"backpack has {money.usdc(ours)} free, a leg needs {money.usdc(need)}"
        settle = {m.settle for m in markets.values()}
        theirs = max((balances.get(a, ZERO) for a in settle), default=ZERO)
        if theirs < need:
            return f"{hedge.name} has {money.usdc(theirs)} free, a leg needs {money.usdc(need)}"
        return None

    async def deltas(self, portfolio: Portfolio, *, auto: bool) -> tuple[list[str], list[Action]]:
        """Compare both legs of every cross position with the venues' real positions.

        The legs should cancel (equal and opposite). A partial fill, a liquidation or a manual
        trade on one venue breaks that: warn, and in auto mode reduce the larger leg to match
        (reduce-only, through the one order path). The books are first set to what the venues
        really hold, so a repair is booked against reality.
        """
        if not portfolio.positions:
            return [], []
        ids = sorted({p.hedge_venue or HEDGE for p in portfolio.positions})
        ours_rows, ours_m, *per_venue = await asyncio.gather(
            self.account.get_positions(),
            self.arb.primary.markets(),
            *(self._venue_view(v) for v in ids),
        )
        ours = {r["symbol"]: Decimal(str(r["quantity"])) for r in ours_rows}
        views = dict(zip(ids, per_venue, strict=True))
        warnings: list[str] = []
        repairs: list[Action] = []
        for p in portfolio.positions:
            vid = p.hedge_venue or HEDGE
            theirs, theirs_m = views[vid]
            hedge_name = self._hedge(vid).name
            a, b = ours.get(p.symbol, ZERO), theirs.get(p.spot_symbol or "", ZERO)
            ma, mb = ours_m.get(p.symbol), theirs_m.get(p.spot_symbol or "")
            step = max(ma.step if ma else ZERO, mb.step if mb else ZERO)
            if a == 0 and b == 0:
                await self.store.remove_position(p.symbol, exited_at_ms=None)
                warnings.append(f"{p.symbol}: both legs are gone from the venues; forgotten")
                continue
            if (a, b) != (p.perp_quantity, p.spot_quantity):
                await self.store.put_position(replace(p, perp_quantity=a, spot_quantity=b))
            delta = a + b
            if abs(delta) <= step:
                continue
            warnings.append(
                f"{p.symbol}: legs diverge — backpack {money.size(a, step or None)}, "
                f"{hedge_name} {money.size(b, step or None)} "
                f"(delta {money.size(delta, step or None)}); "
                + ("repairing" if auto else "check both venues")
            )
            if not auto:
                continue
            excess = abs(abs(a) - abs(b))
            if abs(a) > abs(b) and ma is not None:
                qty = _down(excess, ma.step)
                side: Side = "Bid" if a < 0 else "Ask"
                leg = Leg(p.symbol, side, qty, reduce_only=True)
            elif mb is not None and p.spot_symbol is not None:
                qty = _down(excess, mb.step)
                side = "Bid" if b < 0 else "Ask"
                leg = Leg(p.spot_symbol, side, qty, reduce_only=True, venue=vid)
            else:
                continue
            if qty > 0:
                repairs.append(
                    replace(
                        close_action(p, "delta repair: legs diverged"),
                        legs=(leg,),
                    )
                )
        return warnings, repairs

    async def _venue_view(self, venue_id: str) -> tuple[dict[str, Decimal], dict[str, VenueMarket]]:
        hedge = self._hedge(venue_id)
        rows, markets = await asyncio.gather(hedge.positions(), hedge.markets())
        return {p.symbol: p.quantity for p in rows}, markets

    async def open_for(
        self, text: str, config: StrategyConfig, venue_id: str | None = None
    ) -> Action:
        """The entry the /arb "Open" button proposes for one asset, for ``trade_notional``:
        on ``venue_id``, or on the tradable hedge venue with the best net edge."""
        if venue_id is None:
            rows = [
                r
                for r in await self.arb.compare_all(text)
                if r.venue_id in self.arb.tradable and r.edge is not None
            ]
            if not rows:
                raise VenueError(self.hedge.name, f"{text.strip()}: no venue to trade it on")
            venue_id = rows[0].venue_id
        hedge = self._hedge(venue_id)
        pair = await self.arb.pair(text, venue_id)
        edge = await self.arb.edge_of(pair, config.trade_notional, venue_id)
        if edge.problem is not None:
            raise VenueError(hedge.name, f"{pair.base}: {edge.problem}")
        if edge.spread_per_hour == 0:
            raise VenueError(hedge.name, f"{pair.base}: no spread to earn")
        problem = await self.margin_problem(config.trade_notional, venue_id)
        if problem is not None:
            raise VenueError(hedge.name, problem)
        return open_action(edge)

    async def pairs(self) -> list[PairView]:
        """Every asset held on Backpack and a hedge venue (whoever opened it), Backpack's leg
        first, one line per venue holding it."""
        ids = list(self.arb.hedges)
        ours, matched, held = await asyncio.gather(
            self.arb.primary.positions(),
            asyncio.gather(*(self.arb.pairs(v) for v in ids)),
            asyncio.gather(*(self.arb.hedges[v].positions() for v in ids)),
        )
        ours_by = {p.symbol: p for p in ours}
        out = []
        for vid, pairs, theirs in zip(ids, matched, held, strict=True):
            theirs_by = {p.symbol: p for p in theirs}
            out += [
                PairView(
                    pair.base,
                    ours_by[pair.primary.symbol],
                    theirs_by[pair.hedge.symbol],
                    self.arb.hedges[vid].name,
                )
                for pair in pairs
                if pair.primary.symbol in ours_by and pair.hedge.symbol in theirs_by
            ]
        return out

    async def hedge_funding(self, since_ms: int) -> dict[str, Decimal]:
        """Funding received (+) / paid (−) on the default hedge venue since ``since_ms``, by
        symbol (its own funding history, through ccxt)."""
        return (await self.funding_by_venue(since_ms)).get(self.hedge.name, {})

    async def funding_by_venue(self, since_ms: int) -> dict[str, dict[str, Decimal]]:
        """Funding received (+) / paid (−) since ``since_ms`` on every hedge venue orders go
        to, by venue name then symbol (each venue's own payments: Hyperliquid's
        ``userFunding``)."""
        venues = [v for k, v in self.arb.hedges.items() if k in self.arb.tradable]
        payments = await asyncio.gather(*(v.funding_payments() for v in venues))
        out: dict[str, dict[str, Decimal]] = {}
        for venue, rows in zip(venues, payments, strict=True):
            mine = out.setdefault(venue.name, {})
            for p in rows:
                if p.time_ms >= since_ms:
                    mine[p.symbol] = mine.get(p.symbol, ZERO) + p.amount
        return out

    async def marks(self) -> dict[str, Decimal]:
        """Backpack marks by symbol (for the status view); empty when unreadable."""
        try:
            return {
                r["symbol"]: Decimal(str(r["markPrice"]))
                for r in await self.account.get_mark_prices()
            }
        except BackpackError:
            return {}
