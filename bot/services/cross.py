"""The ``cross`` strategy's reads: edges on both venues, both legs' real positions, margin.

:class:`bot.services.strategy.StrategyService` owns the cycle, proposals, execution and books
(the same single-use ✅, journaled order path and unwind as every other strategy kind); this
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
from bot.services.arb import ArbService
from bot.storage.strategy import StrategyStore
from bot.strategy.cross import close_action, cross_actions, open_action
from bot.strategy.model import ZERO, Action, Candidate, Leg, Portfolio, Side, StrategyConfig
from bot.venues.port import HEDGE, HistoryVenue, VenueError, VenuePosition

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
        scan = await self.arb.scan(top=None, notional=config.trade_notional)
        actions, candidates = cross_actions(scan.edges, portfolio, config, now_ms)
        warnings, repairs = await self.deltas(portfolio, auto=auto)
        troubled = {a.symbol for a in repairs}
        actions = [a for a in actions if a.symbol not in troubled] + repairs
        if any(a.kind == "open" for a in actions):
            problem = await self.margin_problem(config.trade_notional)
            if problem is not None:
                actions = [a for a in actions if a.kind != "open"]
                warnings.append(f"no new cross entry: {problem}")
        fresh = tuple(w for w in warnings if w not in self._told)
        self._told = set(warnings)
        return CrossPlan(tuple(actions), tuple(candidates), fresh)

    async def candidates(
        self, config: StrategyConfig, portfolio: Portfolio, now_ms: int
    ) -> tuple[Candidate, ...]:
        """Every pair's evaluation now (a read: nothing is changed or repaired)."""
        scan = await self.arb.scan(top=None, notional=config.trade_notional)
        return tuple(cross_actions(scan.edges, portfolio, config, now_ms)[1])

    async def margin_problem(self, notional: Decimal) -> str | None:
        """Why a leg of ``notional`` USDC cannot be margined on one of the venues, or None."""
        need = notional * MARGIN_PER_NOTIONAL
        collateral, balances, markets = await asyncio.gather(
            self.account.get_collateral(), self.hedge.balances(), self.hedge.markets()
        )
        ours = Decimal(str(collateral.get("netEquityAvailable") or 0))
        if ours < need:
            return f"backpack has {money.usdc(ours)} free, a leg needs {money.usdc(need)}"
        settle = {m.settle for m in markets.values()}
        theirs = max((balances.get(a, ZERO) for a in settle), default=ZERO)
        if theirs < need:
            return (
                f"{self.hedge.name} has {money.usdc(theirs)} free, a leg needs {money.usdc(need)}"
            )
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
        ours_rows, theirs_rows, ours_m, theirs_m = await asyncio.gather(
            self.account.get_positions(),
            self.hedge.positions(),
            self.arb.primary.markets(),
            self.hedge.markets(),
        )
        ours = {r["symbol"]: Decimal(str(r["quantity"])) for r in ours_rows}
        theirs = {p.symbol: p.quantity for p in theirs_rows}
        warnings: list[str] = []
        repairs: list[Action] = []
        for p in portfolio.positions:
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
                f"{self.hedge.name} {money.size(b, step or None)} "
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
                leg = Leg(p.spot_symbol, side, qty, reduce_only=True, venue=HEDGE)
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

    async def open_for(self, text: str, config: StrategyConfig) -> Action:
        """The entry the /arb "Open" button proposes for one asset, for ``trade_notional``."""
        pair = await self.arb.pair(text)
        edge = await self.arb.edge_of(pair, config.trade_notional)
        if edge.problem is not None:
            raise VenueError(self.hedge.name, f"{pair.base}: {edge.problem}")
        if edge.spread_per_hour == 0:
            raise VenueError(self.hedge.name, f"{pair.base}: no spread to earn")
        problem = await self.margin_problem(config.trade_notional)
        if problem is not None:
            raise VenueError(self.hedge.name, problem)
        return open_action(edge)

    async def pairs(self) -> list[PairView]:
        """Every asset held on both venues (whoever opened it), Backpack's leg first."""
        pairs, ours, theirs = await asyncio.gather(
            self.arb.pairs(), self.arb.primary.positions(), self.hedge.positions()
        )
        ours_by = {p.symbol: p for p in ours}
        theirs_by = {p.symbol: p for p in theirs}
        return [
            PairView(
                pair.base,
                ours_by[pair.primary.symbol],
                theirs_by[pair.hedge.symbol],
                self.hedge.name,
            )
            for pair in pairs
            if pair.primary.symbol in ours_by and pair.hedge.symbol in theirs_by
        ]

    async def hedge_funding(self, since_ms: int) -> dict[str, Decimal]:
        """Funding received (+) / paid (−) on the hedge venue since ``since_ms``, by symbol
        (its own funding history, through ccxt)."""
        out: dict[str, Decimal] = {}
        for p in await self.hedge.funding_payments():
            if p.time_ms >= since_ms:
                out[p.symbol] = out.get(p.symbol, ZERO) + p.amount
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
