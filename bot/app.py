"""The composition root: settings → runtime → python-telegram-bot ``Application``.

Nothing else builds long-lived objects. ``post_init`` starts the runtime (database, exchange
clients, simulator for paper trading, price stream) and publishes the command menu;
``post_shutdown`` closes it all. Tests build the same graph with other settings.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    ContextTypes,
    TypeHandler,
)

from bot.clock import Clock, SystemClock
from bot.runtime import Runtime
from bot.settings import Settings
from handlers import general
from handlers.common import BotData, Context, friendly

log = logging.getLogger("bot.app")

#: Handler modules, each exporting ``handlers()``; wired in this order.
HANDLER_MODULES = [
    "handlers.general",
    "handlers.market",
    "handlers.account",
    "handlers.trading",
    "handlers.alerts",
    "handlers.strategy",
]
#: Job modules, each exporting ``async def setup(application, runtime)``.
JOB_MODULES = ["jobs.trading", "jobs.alerts", "jobs.strategy"]


class _Redactor:
    """Log-record factory wrapper that blanks the bot token from every record.

    python-telegram-bot and httpx log request URLs, and the token is part of them.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.inner = logging.getLogRecordFactory()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        if self.token:
            try:
                text = record.getMessage()
            except Exception:  # a malformed record: leave it to logging to report
                return record
            if self.token in text:
                record.msg = text.replace(self.token, "<bot-token>")
                record.args = ()
        return record


def install_token_redaction(token: str) -> None:
    current = logging.getLogRecordFactory()
    if isinstance(current, _Redactor):
        current.token = token
        return
    logging.setLogRecordFactory(_Redactor(token))


def _modules(names: list[str]) -> list[Any]:
    out = []
    for name in names:
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return out


def build_application(
    settings: Settings, *, clock: Clock | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the bot. Call ``settings.check()`` first for friendly configuration errors."""
    token = settings.telegram_bot_token.get_secret_value()
    install_token_redaction(token)
    runtime = Runtime(settings=settings, clock=clock or SystemClock())
    allowed = frozenset(settings.telegram_allowed_users)
    refused: set[int] = set()
    handler_modules = _modules(HANDLER_MODULES)
    job_modules = _modules(JOB_MODULES)

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await runtime.start()
        app.bot_data.runtime = runtime
        for mod in job_modules:
            await mod.setup(app, runtime)
        extra_help = runtime.extras.get("help", [])
        cmds = [*general.bot_commands(), *(BotCommand(n, d[:256]) for n, d, _ in extra_help)]
        try:
            await app.bot.set_my_commands(cmds)
        except Exception as exc:  # a menu is nice to have; never fail start-up over it
            log.warning("set_my_commands failed: %s", exc)

    async def post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        for mod in job_modules:
            stop = getattr(mod, "teardown", None)
            if stop is not None:
                await stop(app, runtime)
        await runtime.close()

    async def gate(update: object, context: Context) -> None:
        if not isinstance(update, Update):
            return
        user = update.effective_user
        if user is not None and user.id in allowed:
            return
        uid = user.id if user else None
        log.warning("refused update from unauthorised user id=%s", uid)
        if update.callback_query is not None:
            await update.callback_query.answer("This bot is private.", show_alert=True)
        elif update.effective_chat is not None and uid is not None and uid not in refused:
            refused.add(uid)
            await update.effective_chat.send_message(
                "Sorry, this is a private trading bot and you are not on its list of users."
            )
        raise ApplicationHandlerStop

    async def on_error(update: object, context: Context) -> None:
        log.error("unhandled error: %r", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None and context.error:
            try:
                await update.effective_chat.send_message(friendly(context.error))
            except Exception as exc:
                log.warning("could not report an error to the user: %s", exc)

    base = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base)
        .base_file_url(base.removesuffix("/bot") + "/file/bot")
        .context_types(ContextTypes(bot_data=BotData))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .concurrent_updates(True)
    )
    app = builder.build()
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for mod in handler_modules:
        handlers: list[BaseHandler[Any, Any, Any]] = mod.handlers()
        app.add_handlers(handlers)
    app.add_error_handler(on_error)
    app.bot_data.runtime = None
    return app
