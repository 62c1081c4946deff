"""The confirmation sweeper: expired previews are edited into "expired" and lose their buttons.

Taps on an expired confirmation are refused by the service anyway; this job only keeps the chat
honest for previews nobody tapped.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import JobQueue

from bot.container import Services
from bot.desks.factory import DeskFactory
from bot.render import trading as render
from bot.services.notices.outbox import Note
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


def schedule(jq: JobQueue[Any], factory: DeskFactory) -> None:
    async def run() -> None:
        for services in factory.loaded():  # a desk not built has no preview on screen
            await sweep(services)

    jq.run_repeating(
        safe("expiry-sweeper", run), SWEEP_SECONDS, first=SWEEP_SECONDS, name="expiry-sweeper"
    )
