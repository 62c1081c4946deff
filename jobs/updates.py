"""The record of updates taken in (:mod:`handlers.dedupe`) forgets ids older than a week, daily."""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from telegram.ext import JobQueue

from bot.desks.factory import Shared
from bot.storage.updates import SeenUpdates
from jobs.common import safe

log = logging.getLogger("jobs.updates")


async def prune(shared: Shared) -> int:
    """Delete the update ids older than seven days; returns how many."""
    gone = await SeenUpdates(shared.db, shared.clock).prune()
    if gone:
        log.info("forgot %d update ids older than a week", gone)
    return gone


def schedule(jq: JobQueue[Any], shared: Shared) -> None:
    """Once a day (04:10 UTC), and once shortly after start-up."""

    async def run() -> None:
        await prune(shared)

    job = safe("prune-seen-updates", run)
    jq.run_daily(job, time(4, 10), name="prune-seen-updates")
    jq.run_once(job, 60, name="prune-seen-updates-start")
