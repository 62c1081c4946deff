"""The strategy's books: what it owns, kept true to what really filled and to the exchange.

Auto-mode execution (record, send, book), settlement of every action's legs (positions, the
action log, fees, the cooldown after an unwound entry), the exchange stop-losses of its
positions, and the alignment with the exchange's real positions at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import replace
from decimal import Decimal

from bot.exchange.client import round_trigger
from bot.exchange.errors import BackpackError
from bot.exchange.markets import round_quantity
from bot.services.orders.sender import SENT_OK, WireOrder
from bot.services.orders.stops import stops_of
from bot.services.strategy.core import StrategyCore
from bot.services.strategy.values import ORIGIN
from bot.storage.strategy import ActionRecord
from bot.strategy.decide import exchange_stop_price
from bot.strategy.executor import ExecutionReport
from bot.strategy.model import ZERO, Action, StrategyConfig, StrategyPosition

log = logging.getLogger("bot.strategy")


class Books:
    """Execution in auto mode, settlement, exchange stops and reconciliation."""

    def __init__(self, core: StrategyCore) -> None:
        self.core = core

    async def execute(self, action: Action, user_id: int, chat_id: int) -> ExecutionReport:
        """Auto mode: record the action (``executing``), send its legs, book, finish. A stop
        anywhere in between is finished by recovery at the next start
        (:func:`bot.services.strategy.resume.resume_interrupted`)."""
        c = self.core
        action = await c.prepare(action)
        if not action.legs:
            await c.store.remove_position(action.symbol, exited_at_ms=c.now_ms())
            return ExecutionReport(action, (), (), ("nothing left to trade",))
        aid = secrets.token_urlsafe(12)
        now = c.now_ms()
        await c.store.add_approval(
            aid,
            action,
            chat_id=chat_id,
            message_id=None,
            now_ms=now,
            expires_at_ms=now,
            status="executing",
        )
        report = await c.executor(aid, user_id, chat_id).execute(action)
        report = await self.settle(action, report, "auto")
        await c.store.finish_approval(aid, "executed", frm="executing")
        await c.sync_journal()
        return report

    async def ensure_stops(
        self, config: StrategyConfig, user_id: int, chat_id: int
    ) -> tuple[str, ...]:
        """With ``stop_on_exchange``: give every unhedged strategy position its stop-loss as a
        reduce-only conditional order on the exchange (journaled like every order), and forget
        positions the exchange has closed meanwhile (a stop that fired). Idempotent: run each
        cycle, it also covers positions opened before the setting, or a placement that failed."""
        c = self.core
        portfolio = await c.store.portfolio()
        wanted = {
            p.symbol: (p, trigger)
            for p in portfolio.positions
            if (trigger := exchange_stop_price(p, config)) is not None
        }
        if not wanted:
            return ()
        positions, orders = await asyncio.gather(
            c.account_api.get_positions(), c.account_api.get_open_orders()
        )
        real = {p["symbol"]: p for p in positions}
        notes: list[str] = []
        for symbol, (pos, trigger) in wanted.items():
            row = real.get(symbol)
            have = Decimal(str(row["netQuantity"])) if row else ZERO
            if have == 0 or (have > 0) != (pos.perp_quantity > 0):
                await c.store.remove_position(symbol, exited_at_ms=c.now_ms())
                notes.append(
                    f"{symbol}: closed on the exchange (its stop-loss fired, or by hand); forgotten"
                )
                continue
            assert row is not None
            mark = Decimal(str(row.get("markPrice") or trigger))
            mine = [o for o in orders if o.get("symbol") == symbol]
            if any(s.kind == "sl" for s in stops_of(have, mark, mine)):
                continue
            market = await c.account_api.market(symbol)
            wire = WireOrder(
                symbol,
                "SELL" if have > 0 else "BUY",
                min(abs(have), abs(pos.perp_quantity)),  # the strategy's part, not the user's
                reduce_only=True,
                trigger_price=round_trigger(market, trigger),
            )
            outcome = await c.orders.place(
                wire,
                token=f"stop:{secrets.token_urlsafe(9)}",
                leg=0,
                user_id=user_id,
                chat_id=chat_id,
                origin=f"{ORIGIN}stop:{symbol}",
            )
            if outcome.status not in SENT_OK:
                notes.append(f"{symbol}: exchange stop-loss not placed ({outcome.reason})")
        return tuple(notes)

    async def settle(self, action: Action, report: ExecutionReport, mode: str) -> ExecutionReport:
        """Book what the legs did and record the outcome for the next cycle; returns the report
        with its fees and, when an entry was unwound, the end of the cooldown it started.

        Any unwind of an entry (a live cycle, a tap, or recovery after a restart) starts
        ``cooldown_minutes`` for the symbol, persisted with the exits: otherwise the next cycle
        sees the same rate and opens the same pair again, and each round trip burns its fees.
        """
        c = self.core
        report = await self._book(action, report, mode)
        now = c.now_ms()
        cooldown: int | None = None
        if action.kind == "open" and report.unwinds:
            minutes = (await c.store.settings()).config.cooldown_minutes
            await c.store.start_cooldown(action.symbol, at_ms=now)
            cooldown = now + minutes * 60_000
        fees = await c.fees()
        return replace(
            report,
            fees=report.fees_at(fees.perp_taker, fees.spot_taker),
            cooldown_until_ms=cooldown,
            at_ms=now,
        )

    async def _book(self, action: Action, report: ExecutionReport, mode: str) -> ExecutionReport:
        """Update the positions the strategy owns from what really filled; log the action.

        A spot buy's fee is charged in the base asset: the position holds what the account
        received, not what was bought. What a close leaves below the spot market's step is
        dust: it cannot be sold, so the position ends and the report says so (never retried).
        """
        c = self.core
        now = c.now_ms()
        perp_px = report.price_of(action.symbol)
        spot_leg = action.legs[1] if len(action.legs) > 1 else None
        spot_px = report.price_of(spot_leg.symbol) if spot_leg else None
        existing = (await c.store.portfolio()).position(action.symbol)
        if action.kind == "open" and action.strategy == "cross" and not report.ok:
            # A failed or unwound entry counts as an exit: the cooldown stops a loop of
            # opening and unwinding the same pair (each round trip burns two venues' fees).
            await c.store.remove_position(action.symbol, exited_at_ms=now)
            existing = None
        if action.kind == "open":
            if report.perp_filled or report.spot_filled:
                await c.store.put_position(
                    StrategyPosition(
                        symbol=action.symbol,
                        kind=action.strategy,
                        perp_quantity=report.perp_filled,
                        perp_entry=perp_px or action.legs[0].expected_price,
                        opened_at_ms=now,
                        entry_rate=action.funding_rate,
                        spot_symbol=spot_leg.symbol if spot_leg and report.spot_filled else None,
                        spot_quantity=report.spot_filled - await self._base_fees(report),
                        spot_entry=spot_px or ZERO,
                        hedge_venue=spot_leg.venue if spot_leg and spot_leg.venue else None,
                    )
                )
        elif existing is not None:
            perp_left = existing.perp_quantity + report.perp_filled
            spot_left = existing.spot_quantity + report.spot_filled
            markets = await c.account_api.load_markets()
            spot_market = markets.get(existing.spot_symbol or "")
            if existing.kind == "cross":  # the second leg is a perp on the hedge venue
                dust = spot_left == 0
            else:
                tradable = round_quantity(spot_market, spot_left) if spot_market else ZERO
                dust = spot_market is None or tradable < spot_market.min_quantity
            if perp_left == 0 and dust:
                await c.store.remove_position(action.symbol, exited_at_ms=now)
                if spot_left > 0 and spot_market is not None:
                    note = (
                        f"{spot_left.normalize():f} {spot_market.base} left is dust (below the "
                        f"{spot_market.step_size.normalize():f} step): it cannot be sold"
                    )
                    report = replace(report, problems=(*report.problems, note))
            else:
                await c.store.put_position(
                    replace(existing, perp_quantity=perp_left, spot_quantity=spot_left)
                )
        await c.store.add_action(
            ActionRecord(
                at_ms=now,
                mode=c.trading_mode,
                symbol=action.symbol,
                kind=action.kind,
                strategy=action.strategy,
                reason=action.reason,
                order_ids=tuple(f.order_id for f in (*report.fills, *report.unwinds) if f.order_id),
                perp_quantity=report.perp_filled,
                perp_price=perp_px,
                spot_quantity=report.spot_filled,
                spot_price=spot_px,
                problems=report.problems,
            )
        )
        return report

    async def _base_fees(self, report: ExecutionReport) -> Decimal:
        """The base-asset fees of the spot buys in ``report`` (Backpack charges a spot buy's
        fee in what was bought)."""
        api = self.core.account_api
        perp, total = report.action.symbol, ZERO
        markets = await api.load_markets()
        for f in (*report.fills, *report.unwinds):
            if f.symbol == perp or f.side != "Bid" or not f.order_id or not f.filled:
                continue
            market = markets.get(f.symbol)
            base = market.base if market is not None else f.symbol.split("_")[0]
            try:
                rows = await api.get_fills(f.symbol, order_id=f.order_id)
            except BackpackError as exc:
                log.warning("fee lookup for %s failed: %s", f.order_id, exc)
                continue
            total += sum((Decimal(str(r["fee"])) for r in rows if r.get("feeSymbol") == base), ZERO)
        return total

    async def reconcile(self) -> list[str]:
        """Align the positions the strategy owns with the exchange's real ones (at start)."""
        c = self.core
        notes: list[str] = []
        portfolio = await c.store.portfolio()
        if not portfolio.positions:
            return notes
        real = {
            p["symbol"]: Decimal(str(p["netQuantity"])) for p in await c.account_api.get_positions()
        }
        balances = {
            b["asset"]: Decimal(str(b["available"])) + Decimal(str(b["locked"]))
            for b in await c.account_api.get_balances()
        }
        markets = await c.account_api.load_markets()
        now = c.now_ms()
        for pos in portfolio.positions:
            if pos.kind == "cross":
                continue  # both venues' legs are checked by the cross delta check each cycle
            have = real.get(pos.symbol, ZERO)
            gone = have == 0 or (have > 0) != (pos.perp_quantity > 0)
            if pos.perp_quantity != 0 and gone:
                notes.append(f"{pos.symbol}: no matching position on the exchange; forgotten")
                await c.store.remove_position(pos.symbol, exited_at_ms=now)
                continue
            updated = pos
            if abs(have) < abs(pos.perp_quantity):
                notes.append(f"{pos.symbol}: exchange holds {have}, had {pos.perp_quantity}")
                updated = replace(updated, perp_quantity=have)
            if pos.spot_symbol is not None:
                base = markets[pos.spot_symbol].base if pos.spot_symbol in markets else ""
                held = balances.get(base, ZERO)
                if held < pos.spot_quantity:
                    notes.append(f"{pos.spot_symbol}: holding {held}, had {pos.spot_quantity}")
                    updated = replace(updated, spot_quantity=held)
            if updated != pos:
                await c.store.put_position(updated)
        return notes
