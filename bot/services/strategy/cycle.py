"""One decision cycle: read the market and the strategy's positions, decide (the pure rules in
:mod:`bot.strategy.decide` and :mod:`bot.strategy.cross`), then propose (approve) or execute
(auto); exits and exchange stops go on while new entries are paused."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.services.access import Actor
from bot.services.orders.intent import IntentError
from bot.services.strategy.approvals import Approvals
from bot.services.strategy.books import Books
from bot.services.strategy.core import StrategyCore
from bot.services.strategy.values import CycleResult, Proposal, split
from bot.strategy.decide import candidates, decide
from bot.strategy.model import Action, Candidate, Portfolio, StrategyConfig

log = logging.getLogger("bot.strategy")


class Cycle:
    """The decision cycle (serialised with taps by the shared lock)."""

    def __init__(self, core: StrategyCore, books: Books, approvals: Approvals) -> None:
        self.core = core
        self.books = books
        self.approvals = approvals
        self._cooldowns_told: dict[str, int] = {}  # symbol → the exit whose cooldown was logged

    async def run(self) -> CycleResult:
        """One decision: off → nothing; approve → proposals; auto → executions."""
        c = self.core
        async with c.lock:
            settings = await c.store.settings()
            c.last_cycle_ms = c.now_ms()  # /health: the cycle runs
            if settings.mode == "off":
                return CycleResult(mode="off")
            now = c.now_ms()
            owner = (settings.user_id or 0, settings.chat_id or 0)
            stop_notes = await self.books.ensure_stops(settings.config, *owner)
            actions, warnings = await self._decide(settings.config, now, settings.mode)
            if settings.paused:  # /pause: exits and stops go on, nothing new is opened
                actions = [a for a in actions if a.kind != "open"]
            if settings.mode == "auto":
                reports = [await self.books.execute(a, *owner) for a in actions]
                stop_notes += await self.books.ensure_stops(settings.config, *owner)
                return CycleResult(
                    "auto",
                    reports=tuple(reports),
                    chat_id=settings.chat_id,
                    notes=stop_notes,
                    warnings=warnings,
                )
            if settings.chat_id is None or settings.user_id is None:
                return CycleResult("approve", notes=("approve mode has nobody to ask",))
            waiting = await c.store.pending_symbols(now)
            proposals: list[Proposal] = []
            notes: list[str] = []
            for a in actions:
                if a.symbol in waiting:
                    continue  # the user has not answered the last proposal for it yet
                try:
                    proposals.append(
                        await self.approvals.propose(
                            a, Actor.bot(settings.user_id, settings.chat_id), now
                        )
                    )
                except IntentError as exc:
                    notes.append(f"{a.symbol}: {exc.problem}")
            return CycleResult(
                "approve",
                proposals=tuple(proposals),
                chat_id=settings.chat_id,
                notes=(*stop_notes, *notes),
                warnings=warnings,
            )

    async def _decide(
        self, config: StrategyConfig, now: int, mode: str
    ) -> tuple[list[Action], tuple[str, ...]]:
        """The configured kind enters and manages its positions; positions of the other
        family (cross, or Backpack-only) keep being managed, exits only, until they close."""
        c = self.core
        crossing, others = split(await c.store.portfolio())
        cross_on = config.kind == "cross" and c.cross is not None
        actions: list[Action] = []
        warnings: tuple[str, ...] = ()
        if others.positions or config.kind != "cross":
            cfg = config
            if config.kind == "cross":  # exits only for the Backpack-only positions
                cfg = replace(config, kind="carry", max_positions=0)
            snap = await c.snapshot(cfg, others)
            actions += decide(snap, others, cfg, now)
            self._say_cooldowns(candidates(snap, others, cfg, now), others)
        if c.cross is not None and (crossing.positions or cross_on):
            cfg = config if cross_on else replace(config, max_positions=0)
            plan = await c.cross.plan(cfg, crossing, now, auto=mode == "auto")
            actions += plan.actions
            warnings = plan.warnings
        elif crossing.positions or config.kind == "cross":
            log.warning("cross needs the hedge venue (HEDGE_EXCHANGE); nothing done for it")
        return actions, warnings

    def _say_cooldowns(self, evaluated: list[Candidate], portfolio: Portfolio) -> None:
        """Log once per exit each entry the cooldown holds back (after an unwind or a close),
        so the operator sees why the strategy does not re-enter a pair that qualifies."""
        for c in evaluated:
            exited = portfolio.last_exit_ms.get(c.symbol)
            if exited is None or not c.reason.startswith("cooling down"):
                continue
            if self._cooldowns_told.get(c.symbol) != exited:
                self._cooldowns_told[c.symbol] = exited
                log.info("strategy: %s qualifies but is %s", c.symbol, c.reason)
