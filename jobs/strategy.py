"""The strategy runner: a JobQueue job every ``STRATEGY_INTERVAL_SECONDS``.

A funding-rate alert firing runs a cycle at once (debounced). Each run syncs the PnL journal
and asks the strategy service for a cycle; proposals (approve mode) and execution reports (auto
mode) go through the outbox to the chat that switched the strategy on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram.ext import CallbackContext, JobQueue

from bot.alerts.service import Firing
from bot.container import Services
from bot.exchange.errors import BackpackError
from bot.render import strategy as render
from bot.services.outbox import Note
from bot.services.strategy import CycleResult
from bot.venues.port import VenueError

log = logging.getLogger("jobs.strategy")

JOB_NAME = "strategy"
REACT_DEBOUNCE_SECONDS = 10.0


def deliver(services: Services, result: CycleResult) -> None:
    """Hand a cycle's proposals (with ✅/❌) and reports to the outbox."""
    chat = result.chat_id
    if chat is None:
        return
    mode = services.mode
    for p in result.proposals:
        text, markup = render.proposal(p, mode)

        async def attach(message_id: int, token: str = p.token) -> None:
            await services.trading.attach_message(token, message_id)

        services.outbox.send(Note(chat, None, text, markup, on_sent=attach))
    for r in result.reports:
        services.outbox.send(Note(chat, None, render.report(r, mode)))
    for w in result.warnings:
        services.outbox.send(Note(chat, None, render.warning(w, mode)))


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
    deliver(services, result)


def schedule(jq: JobQueue[Any], services: Services) -> None:
    """Run the cycle every interval, and at once when a funding alert fires."""

    async def tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
        try:
            await run_once(services)
        except Exception:  # the job must survive anything; the next run tries again
            log.exception("strategy cycle failed")

    interval = services.settings.strategy_interval_seconds
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

    services.alerts.listeners.append(on_alert)
