"""What every job shares: a wrapper that logs a failure and keeps the job on schedule, and the
desk's name on a notice for a reader of several desks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from telegram.ext import CallbackContext

from bot.container import Services
from bot.render.common import esc
from bot.services.notices.outbox import Note

log = logging.getLogger("jobs")

JobFn = Callable[[CallbackContext[Any, Any, Any, Any]], Coroutine[Any, Any, None]]


def safe(name: str, fn: Callable[[], Awaitable[Any]]) -> JobFn:
    """A JobQueue callback that logs any exception and keeps the job scheduled."""

    @functools.wraps(fn)
    async def job(context: CallbackContext[Any, Any, Any, Any]) -> None:
        try:
            await fn()
        except Exception:
            log.exception("job %s failed; it runs again on schedule", name)

    return job


def on_desk(services: Services, note: Note) -> Note:
    """``note`` about ``services``' desk, headed with the desk's name when its reader is a
    member of more than one desk (so a fill on one desk is never read as another's)."""
    user = note.user_id
    if user is None or note.only_markup or len(services.desks.memberships(user)) < 2:
        return note
    return replace(note, text=f"🗂 <b>{esc(services.desk.name)}</b>\n{note.text}")
