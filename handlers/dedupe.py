"""Every update is handled once (group -2, before the update gate) in the single process.

Telegram sends a webhook update again when it did not get a timely ``200`` (a slow handler, a
restart). The update's id is recorded in the database before anything handles it; an id seen
before ends the update here, silently (the user was answered the first time), with one INFO
line. The web processes of issue 22 do without this handler: their webhook claims each update
for the process handling it (:class:`bot.storage.updates.UpdateClaims`), so a redelivery after
that process died is handled by another one.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.storage.updates import SeenUpdates
from handlers.common import Context

log = logging.getLogger("bot.dedupe")


async def dedupe(update: object, context: Context) -> None:
    """Drop an update whose ``update_id`` was taken in before."""
    if not isinstance(update, Update):
        return
    factory = context.bot_data.factory
    if factory is None:  # before start-up finished: the gate drops it anyway
        return
    seen = SeenUpdates(factory.shared.db, factory.shared.clock)
    try:
        new = await seen.first_time(update.update_id)
    except Exception as exc:
        # The database will fail the gate too, which answers the user; handling a rare
        # redelivery twice is better than dropping a command unseen.
        log.warning("could not record update %s: %r", update.update_id, exc)
        return
    if not new:
        log.info("update %s was delivered again; handled already, dropped", update.update_id)
        raise ApplicationHandlerStop
