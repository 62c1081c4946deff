"""The confirmation sweeper: expired previews are edited into "expired" and lose their buttons.

Taps on an expired confirmation are refused by the service anyway; this job only keeps the chat
honest for previews nobody tapped.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import JobQueue

from bot.clock import now_ms
from bot.container import Services
from bot.desks.factory import DeskFactory
from bot.render import trading as render
from bot.services.notices.outbox import Note
from bot.storage.desks_scope import desks_with_due_confirmations
from jobs.common import safe

SWEEP_SECONDS = 5.0


async def sweep(services: Services) -> int:
    """Expire what is due and have each preview message edited; returns how many expired."""
    outcomes = await services.trading.expire_due()
    for outcome in outcomes:
        text = render.final(outcome)
        if text is None or outcome.chat_id is None or outcome.message_id is None:
            continue
        services.outbox.send(Note(outcome.chat_id, None, text, edit=outcome.message_id))
    return len(outcomes)


async def sweep_all(factory: DeskFactory) -> int:
    """Sweep the built desks that have something due, found with one query across desks (a
    thousand idle desks cost one query every ``SWEEP_SECONDS``, not a thousand)."""
    due = await desks_with_due_confirmations(factory.shared.db, now_ms(factory.shared.clock))
    expired = 0
    for desk_id in sorted(due):
        services = factory.peek(desk_id)  # a desk not built has no preview on screen
        if services is not None:
            expired += await sweep(services)
    return expired


def schedule(jq: JobQueue[Any], factory: DeskFactory) -> None:
    async def run() -> None:
        await sweep_all(factory)

    jq.run_repeating(
        safe("expiry-sweeper", run), SWEEP_SECONDS, first=SWEEP_SECONDS, name="expiry-sweeper"
    )
