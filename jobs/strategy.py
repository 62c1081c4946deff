"""The strategy runner: a JobQueue job every ``STRATEGY_INTERVAL_SECONDS``.

A funding-rate alert firing runs a cycle at once (debounced). Each run syncs the PnL journal
and asks the strategy service for a cycle; proposals (approve mode) and execution reports (auto
mode) go through the outbox to the chat that switched the strategy on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import CallbackContext, JobQueue

from bot.alerts.service import Firing
from bot.container import Services
from bot.desks.factory import DeskFactory
from bot.exchange.errors import BackpackError
from bot.render import strategy as render
from bot.services.notices.outbox import Note
from bot.services.strategy.control import CycleResult
from bot.storage.desks_scope import desks_with_strategy_on
from bot.venues.port import VenueError
from jobs.common import on_desk

log = logging.getLogger("jobs.strategy")

JOB_NAME = "strategy"
REACT_DEBOUNCE_SECONDS = 10.0


async def deliver(services: Services, result: CycleResult) -> None:
    """Hand a cycle's proposals (with ✅/❌) and reports to the outbox.

    A proposal asks the one who switched the strategy on (its ✅ is theirs), in that chat. A
    report of what the strategy traded is a notice: it goes to everyone who hears about the
    account's trading (owners and traders unless they muted it, viewers who opted in), and to
    the strategy's chat too when that is a group.
    """
    chat = result.chat_id
    mode = services.mode
    if result.reports:
        targets = await services.watchers.recipients("strategy")
        if chat is not None and chat < 0 and all(c != chat for _, c in targets):
            targets.append((0, chat))
        for r in result.reports:
            text = render.report(r, mode)
            for user, to in targets:
                services.outbox.send(on_desk(services, Note(to, user or None, text)))
    if chat is None:
        return
    for p in result.proposals:
        text, markup = render.proposal(p, mode)

        async def attach(message_id: int, token: str = p.token) -> None:
            await services.trading.attach_message(token, message_id)

        hook = f"proposal:{services.desk.id}:{p.token}"  # the table outbox's attach
        services.outbox.send(Note(chat, None, text, markup, on_sent=attach, hook=hook))
    for w in result.warnings:
        services.outbox.send(Note(chat, None, render.warning(w, mode)))


def proposal_hook(desks: DeskFactory) -> Callable[[str, int], Awaitable[None]]:
    """The outbox senders' ``"proposal"`` hook (a proposal note's ``hook`` is
    ``"proposal:<desk>:<token>"``; the hook hears ``"<desk>:<token>"``): remembers the message
    that shows the proposal, as ``attach`` in :func:`deliver` does in one process, so the
    expiry sweeper can edit it later."""

    async def proposal(rest: str, message_id: int) -> None:
        desk, _, token = rest.partition(":")
        services = await desks.get(desk)
        await services.trading.attach_message(token, message_id)

    return proposal


async def run_once(services: Services) -> None:
    """One strategy cycle; failures are logged and the next run tries again."""
    try:
        await services.journal.sync()
        result = await services.strategy.run_cycle()
    except (BackpackError, VenueError) as exc:
        log.warning("strategy cycle skipped: %s", exc)
        return
    for note in result.notes:
        log.info("strategy: %s", note)
    for p in result.proposals:
        a = p.action
        log.info("strategy proposes: %s %s (%s), %s", a.kind, a.symbol, a.strategy, a.reason)
    for r in result.reports:
        a = r.action
        outcome = "done" if r.ok else "problems: " + "; ".join(r.problems)
        log.info(
            "strategy executed: %s %s (%s), %s; %s", a.kind, a.symbol, a.strategy, a.reason, outcome
        )
    await deliver(services, result)


#: Desks whose cycles run at the same time (each desk's own lock keeps its cycle single).
CONCURRENT_DESKS = 8


async def run_all(factory: DeskFactory) -> int:
    """One cycle on every desk whose strategy is on; returns how many desks ran."""
    desk_ids = await desks_with_strategy_on(factory.shared.db)
    gate = asyncio.Semaphore(CONCURRENT_DESKS)

    async def one(desk_id: str) -> None:
        async with gate:
            try:
                await run_once(await factory.get(desk_id))
            except Exception:  # one desk's failure never stops another's cycle
                log.exception("strategy cycle failed on desk %s", desk_id)

    await asyncio.gather(*(one(d) for d in sorted(desk_ids)))
    return len(desk_ids)


def schedule(jq: JobQueue[Any], factory: DeskFactory) -> None:
    """Run the cycle every interval on every desk with the strategy on, and at once when a
    funding alert fires."""

    async def tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
        try:
            await run_all(factory)
        except Exception:  # the job must survive anything; the next run tries again
            log.exception("strategy cycles failed")

    interval = factory.shared.settings.strategy_interval_seconds
    jq.run_repeating(tick, interval=interval, first=interval, name=JOB_NAME)
    last = [0.0]

    async def on_alert(firing: Firing) -> None:
        """A funding alert fired: run a cycle now rather than at the next interval."""
        if firing.alert.kind not in ("funding", "funding_apr"):
            return
        now = time.monotonic()
        if now - last[0] < REACT_DEBOUNCE_SECONDS:
            return
        last[0] = now
        jq.run_once(tick, 0, name=f"{JOB_NAME}-on-alert")

    factory.shared.alerts.listeners.append(on_alert)
