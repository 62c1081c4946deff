"""Finishing auto-mode strategy actions a stop interrupted (run by recovery at start-up).

The order journal has already been settled, so every leg an action sent is known: filled, part
filled, or never placed. What is left is a decision only for a *half-entered pair* — the first
leg (the perp) filled and the hedge leg never went out:

* **complete** the missing leg when the strategy would still open this pair now (the same
  decision the next cycle makes, on a fresh snapshot: rate, edge after costs, limits, kind and
  mode) and the leg is still safe to send (priced on a fresh book and checked against the
  order limits, the minimum size and the account, as any order is);
* otherwise **unwind** the first leg (reduce-only), which starts the symbol's cooldown.

Either way the outcome is booked (the position, or the exit that starts the cooldown), so the
next cycle neither re-enters a pair it just unwound nor opens one it already holds, and the
report says what was done (``after_restart``) for the user to be told once.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.exchange.errors import BackpackError
from bot.services.orders.intent import IntentError, OrderIntent
from bot.services.orders.sender import OrderOutcome
from bot.services.strategy.control import StrategyService, leg_fill
from bot.storage.trading import JournalRecord
from bot.strategy.cross import cross_actions
from bot.strategy.decide import candidates, decide
from bot.strategy.executor import ExecutionReport, Executor, LegFill
from bot.strategy.model import Action, Leg, Portfolio
from bot.venues.port import VenueError

log = logging.getLogger("bot.strategy")


async def resume_interrupted(svc: StrategyService) -> list[tuple[int, ExecutionReport]]:
    """Finish every auto-mode action left ``executing``; (chat id, report) for each to tell."""
    out: list[tuple[int, ExecutionReport]] = []
    settings = await svc.store.settings()
    for aid, action, chat_id in await svc.store.executing():
        rows = {r.leg: r for r in await svc.trading.store.journal_for(aid)}
        executor = svc.executor(aid, settings.user_id or 0, chat_id)
        report = await _finish(svc, executor, action, rows)
        if report is None:  # the first order was never even journaled: nothing happened
            await svc.store.finish_approval(aid, "not_placed", frm="executing")
            continue
        if report.traded:
            report = await svc.settle(action, report, "auto")
        await svc.store.finish_approval(aid, "executed", frm="executing")
        log.info(
            "strategy action %s %s interrupted by a restart: %s",
            action.kind,
            action.symbol,
            report.after_restart,
        )
        out.append((chat_id, report))
    return out


async def _finish(
    svc: StrategyService, executor: Executor, action: Action, rows: dict[int, JournalRecord]
) -> ExecutionReport | None:
    if 0 not in rows:
        return None
    first = leg_fill(action.legs[0], OrderOutcome.of_row(rows[0]))
    fills = [first]
    if 1 in rows and len(action.legs) > 1:
        fills.append(leg_fill(action.legs[1], OrderOutcome.of_row(rows[1])))
    if 2 in rows:  # the unwind itself went out before the stop: record it, send nothing
        undo = leg_fill(
            Leg(first.symbol, "Ask" if first.side == "Bid" else "Bid", first.filled),
            OrderOutcome.of_row(rows[2]),
        )
        report = ExecutionReport(action, tuple(fills), (undo,), ("unwound before the restart",))
        return replace(report, after_restart="unwound")
    if first.filled <= 0 and len(fills) == 1:
        reason = first.error or "nothing filled"
        report = ExecutionReport(action, (first,), (), (f"{first.symbol}: {reason}",))
        return replace(report, after_restart="untraded")
    half_entered = len(action.legs) > 1 and len(fills) == 1 and action.kind == "open"
    if not half_entered:  # every leg went out before the stop: judge and book them
        report = await executor.complete(action, fills)
        return replace(report, after_restart="unwound" if report.unwinds else "booked")
    why_not = await _why_not_complete(svc, action, first)
    if why_not is None:
        missing = replace(action.legs[1], quantity=min(first.filled, action.legs[1].quantity))
        second = await executor.place(missing, "1")
        report = await executor.complete(action, [first, second])
        if not report.unwinds:
            return replace(report, after_restart="completed")
        return replace(report, after_restart="unwound")
    report = await executor.complete(action, fills)
    problems = tuple(p for p in report.problems if not p.endswith("leg not sent"))
    return replace(
        report,
        problems=(f"not completed: {why_not}", *problems),
        after_restart="unwound",
    )


async def _why_not_complete(svc: StrategyService, action: Action, first: LegFill) -> str | None:
    """``None`` when the missing leg should go out now, otherwise why not (for the user)."""
    try:
        why = await _entry_rule(svc, action)
        if why is not None:
            return why
        leg = action.legs[1]
        intent = OrderIntent(
            side="buy" if leg.is_buy else "sell",
            market=leg.symbol,
            quantity=min(first.filled, leg.quantity),
            reduce_only=leg.reduce_only,
            venue=leg.venue,
        )
        await svc.trading.pricer.price(intent)  # a fresh book, the limits, the account
    except IntentError as exc:
        return f"the {action.legs[1].symbol} leg is no longer safe to send ({exc.problem})"
    except (BackpackError, VenueError) as exc:
        return f"the market could not be read ({exc})"
    return None


async def _entry_rule(svc: StrategyService, action: Action) -> str | None:
    """Whether the strategy would open this same pair now (its next cycle's decision)."""
    settings = await svc.store.settings()
    config = settings.config
    if settings.mode != "auto":
        return f"the strategy is in {settings.mode} mode now"
    if config.kind != action.strategy:
        return f"the strategy trades {config.kind} now"
    portfolio = await svc.store.portfolio()
    now = svc.now_ms()
    crossing = action.strategy == "cross"
    ours = Portfolio(
        tuple(p for p in portfolio.positions if (p.kind == "cross") == crossing),
        portfolio.last_exit_ms,
    )
    if crossing:
        if svc.cross is None:
            return "the hedge venue is not configured"
        scan = await svc.cross.arb.scan(top=None, notional=config.trade_notional)
        actions, evaluated = cross_actions(scan.edges, ours, config, now)
    else:
        snap = await svc.snapshot(config, ours)
        actions = decide(snap, ours, config, now)
        evaluated = candidates(snap, ours, config, now)
    sides = [(leg.symbol, leg.side) for leg in action.legs]
    if any(
        a.kind == "open"
        and a.symbol == action.symbol
        and [(leg.symbol, leg.side) for leg in a.legs] == sides
        for a in actions
    ):
        return None
    for c in evaluated:
        if c.symbol != action.symbol:
            continue
        if not c.eligible:
            return f"the entry rule no longer holds ({c.reason})"
        if action.strategy != "cross" and (c.funding_rate > 0) != (action.legs[0].side == "Ask"):
            return "funding changed sides"
    return "the entry rule no longer holds (no room under the limits)"
