"""Telling the users what recovery settled, and retrying it while the exchange cannot answer.

Recovery itself runs in the composition root before anything else; this module renders its
result into the outbox (each item once: the service settles each row exactly once) and, when
some lookups failed, keeps running it every ``RETRY_SECONDS`` until everything is settled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import CallbackContext, JobQueue

from bot.container import Services
from bot.render import recovery as render
from bot.render import strategy as render_strategy
from bot.render import trading as render_trading
from bot.services.notices.outbox import Note
from bot.services.recovery import Recovered

log = logging.getLogger("jobs.recovery")

RETRY_SECONDS = 15.0
JOB_NAME = "recovery"


def announce(services: Services, rec: Recovered) -> None:
    """Edit each interrupted preview into its real outcome and say what happened."""
    outbox, mode = services.outbox, services.mode
    by_token = {a.outcome.token: a for a in rec.approvals}
    for outcome in rec.finished:  # already final: make sure no message still offers ✅
        text = render_trading.final(outcome)
        if text is not None and outcome.chat_id is not None and outcome.message_id is not None:
            outbox.send(Note(outcome.chat_id, None, text, edit=outcome.message_id))
    for outcome in rec.confirmations:
        if outcome.chat_id is None:
            continue
        user = outcome.preview.user_id if outcome.preview else None
        approved = by_token.get(outcome.token)
        if approved is not None:
            text = render_strategy.approval(approved, mode)
            if outcome.message_id is not None:
                outbox.send(Note(outcome.chat_id, user, text, edit=outcome.message_id))
            outbox.send(
                Note(outcome.chat_id, user, render.strategy_approval(approved, mode), critical=True)
            )
            continue
        edited, short = render.confirmation(outcome)
        if edited is not None and outcome.message_id is not None:
            outbox.send(Note(outcome.chat_id, user, edited, edit=outcome.message_id))
        outbox.send(Note(outcome.chat_id, user, short, critical=True))
    for chat, report in rec.actions:
        if chat:
            outbox.send(Note(chat, None, render.strategy_action(report, mode), critical=True))
    for row, settled in rec.cancels:
        outbox.send(Note(row.chat_id, row.user_id, render.cancel(row, settled), critical=True))
    if rec.notes and rec.strategy_chat is not None:
        outbox.send(Note(rec.strategy_chat, None, render.strategy_notes(rec.notes)))


def schedule(jq: JobQueue[Any], services: Services, first: Recovered) -> None:
    """While a desk's first recovery was incomplete, run it again until it is (one job per
    desk: one desk's exchange being unreachable never holds another's back)."""
    if first.complete:
        return
    name = f"{JOB_NAME}:{services.desk.id}"

    async def retry(context: CallbackContext[Any, Any, Any, Any]) -> None:
        try:
            rec = await services.recovery.run()
        except Exception:
            log.exception("recovery retry of desk %s failed", services.desk.id)
            return
        announce(services, rec)
        if rec.complete:
            log.info("recovery of desk %s complete", services.desk.id)
            for job in jq.get_jobs_by_name(name):
                job.schedule_removal()

    log.warning(
        "recovery of desk %s incomplete (exchange unreachable?); retrying every %.0f s",
        services.desk.id,
        RETRY_SECONDS,
    )
    jq.run_repeating(retry, RETRY_SECONDS, first=RETRY_SECONDS, name=name)


def on_build(jq: JobQueue[Any]) -> Callable[[Services], Awaitable[None]]:
    """The factory's hook for a desk built after start-up (first use, or again after its keys
    changed or it idled): settle what its previous clients left unfinished before it acts."""

    async def recover(services: Services) -> None:
        recovered = await services.recovery.run()
        announce(services, recovered)
        schedule(jq, services, recovered)

    return recover
