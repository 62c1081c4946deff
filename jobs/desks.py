"""Desks on the JobQueue: idle desks are closed so a thousand quiet traders cost little.

A desk is closed only when it has been unused for ``DESK_IDLE_MINUTES`` and has nothing open:
no position, no resting order, no strategy switched on. Its next command builds it again.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import JobQueue

from bot.container import Services
from bot.desks.factory import BACKPACK, DeskFactory
from bot.render import desks as render
from bot.services.access import Actor
from bot.services.notices.outbox import Note
from jobs.common import safe

log = logging.getLogger("jobs.desks")

EVICT_SECONDS = 300.0


async def busy(services: Services) -> bool:
    """True when the desk has something open that its watchers must keep an eye on."""
    if (await services.strategy.store.settings()).mode != "off":
        return True
    me = Actor.bot()
    return bool(await services.account.positions(me)) or bool(await services.account.orders(me))


async def evict(factory: DeskFactory) -> int:
    """Close the idle desks with nothing open; returns how many."""
    idle_ms = factory.shared.settings.desk_idle_minutes * 60_000
    closed = await factory.evict_idle(idle_ms, busy)
    if closed:
        log.info("closed %d idle desks", closed)
    return closed


async def tell_refused(factory: DeskFactory) -> int:
    """Desks whose own keys the exchange refused are marked, and their owners told once;
    returns how many desks were newly marked. Other desks are not touched."""
    shared = factory.shared
    marked = 0
    while factory.refused:
        desk_id = factory.refused.pop()
        if not await shared.desks.mark_revoked(desk_id, BACKPACK):
            continue  # already marked: told before
        marked += 1
        desk = shared.desks.get(desk_id)
        if desk is None:
            continue
        log.warning("desk %s: the exchange refused its keys; owners told", desk_id)
        for user, role in shared.desks.members(desk_id).items():
            if role == "owner":
                shared.outbox.send(Note(user, user, render.revoked(desk, BACKPACK), critical=True))
    return marked


def schedule(jq: JobQueue[Any], factory: DeskFactory) -> None:
    async def run() -> None:
        await evict(factory)

    async def refused() -> None:
        await tell_refused(factory)
        await factory.reap()

    jq.run_repeating(safe("desks-evict", run), EVICT_SECONDS, first=EVICT_SECONDS, name="desks")
    jq.run_repeating(safe("desks-refused", refused), 5, first=5, name="desks-refused")
