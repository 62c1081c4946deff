"""What every job shares: a wrapper that logs a failure and keeps the job on schedule."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import CallbackContext

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
