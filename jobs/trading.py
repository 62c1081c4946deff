"""The confirmation sweeper: expired previews are edited into "expired" and lose their buttons.

Taps on an expired confirmation are refused by the service anyway; this job only keeps the chat
honest for previews nobody tapped.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext

from bot.render import trading as render
from bot.runtime import Runtime
from bot.services.trading import TradingService

log = logging.getLogger("bot.jobs.trading")

SWEEP_SECONDS = 5.0
JOB_NAME = "trading-expiry-sweeper"


async def sweep(trading: TradingService, bot: Any) -> int:
    """Expire what is due and edit each preview message; returns how many expired."""
    outcomes = await trading.expire_due()
    for outcome in outcomes:
        text = render.final(outcome)
        if text is None or outcome.chat_id is None or outcome.message_id is None:
            continue
        try:
            await bot.edit_message_text(
                text,
                chat_id=outcome.chat_id,
                message_id=outcome.message_id,
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:  # deleted message, chat gone: nothing left to tidy
            log.info("could not mark preview %s expired: %s", outcome.message_id, exc)
    return len(outcomes)


async def _run(context: CallbackContext[Any, Any, Any, Any]) -> None:
    job = context.job
    trading = job.data if job is not None else None
    if isinstance(trading, TradingService):
        await sweep(trading, context.bot)


async def setup(application: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    """Start the sweeper on the application's JobQueue."""
    if application.job_queue is None or runtime.trading is None:
        log.warning("no JobQueue or no trading service: expired previews keep their buttons")
        return
    application.job_queue.run_repeating(
        _run, interval=SWEEP_SECONDS, first=SWEEP_SECONDS, name=JOB_NAME, data=runtime.trading
    )
