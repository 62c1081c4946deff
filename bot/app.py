"""The composition root: settings → services → python-telegram-bot ``Application``.

Nothing else builds long-lived objects. Start-up is one sequence, in :func:`post_init`:

    database (migrations, single-instance lock) → exchange clients (paper engine or live)
    → services → outbox → **recovery** (every interrupted request settled, users told)
    → streams (prices, alerts, fills) → jobs → command menu → (PTB starts polling)

``post_shutdown`` undoes it in reverse. Handlers and jobs are explicit, ordered lists. Tests
build the same graph with other settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    BaseRateLimiter,
    ContextTypes,
    JobQueue,
    TypeHandler,
)

from bot.alerts.service import AlertService
from bot.clock import Clock, SystemClock
from bot.container import HelpLine
from bot.desks.connect import Connector, VenueUrls
from bot.desks.doors import DeskDoors
from bot.desks.factory import DeskFactory, Shared
from bot.desks.model import OPERATOR
from bot.desks.registry import Desks
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.keyring.desk_keys import DeskKeys
from bot.keyring.source import KeySource
from bot.keyring.spot import scrub
from bot.keyring.vault import Vault
from bot.paper import PaperExchange
from bot.render.dashboard import menu_button
from bot.services.access import Refused
from bot.services.health import LogTail
from bot.services.notices.outbox import Notices, Outbox
from bot.settings import Settings
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.desk_locks import DeskLocks
from bot.storage.desks_scope import desks_with_strategy_on, desks_with_unfinished_work
from bot.venues.backpack import BackpackVenue
from bot.venues.opening import OpenVenues, open_hedges
from bot.venues.port import Venue
from bot.webapp.server import DashboardServer
from handlers import (
    account,
    alerts,
    arb,
    dashboard,
    desks,
    general,
    market,
    pause,
    reports,
    strategy,
    trading,
)
from handlers.common import (
    BotData,
    Context,
    DeskContext,
    fault_reference,
    friendly,
    reply,
    report_fault,
    what_failed,
)
from handlers.dedupe import dedupe
from handlers.gate import gate
from handlers.guard import send_refusal
from jobs import desks as desk_jobs
from jobs import recovery, watchers
from jobs import strategy as strategy_jobs
from jobs import trading as trading_jobs
from jobs.outbox import TelegramTransport

log = logging.getLogger("bot.app")

App = Application[Any, Any, Any, Any, Any, Any]
#: Which process this is: the single process does everything; the others share the work
#: through PostgreSQL (:mod:`bot.processes`).
ProcessRole = Literal["all", "web", "worker", "ingest"]
#: A start-up or shut-down hook of the Application.
Hook = Callable[[App], Coroutine[Any, Any, None]]

#: Handlers in the order they are tried (the first match wins within a group).
HANDLERS: list[Callable[[], list[BaseHandler[Any, Any, Any]]]] = [
    general.handlers,
    desks.handlers,
    market.handlers,
    arb.handlers,
    account.handlers,
    trading.handlers,
    alerts.handlers,
    strategy.handlers,
    dashboard.handlers,
    reports.handlers,
    pause.handlers,
]
#: Help lines of the commands beyond the general ones, in menu order.
HELP: list[HelpLine] = [
    *desks.HELP,
    *arb.HELP,
    *alerts.HELP,
    *strategy.HELP,
    *dashboard.HELP,
    *reports.HELP,
    *pause.HELP,
]


class _Redactor:
    """Log-record factory wrapper that blanks the bot token, other secrets and anything that looks
    like a key (:func:`bot.keyring.spot.scrub`) from every record.

    python-telegram-bot and httpx log request URLs, and the token is part of them; at DEBUG
    python-telegram-bot logs every request's parameters, the webhook's secret token among them.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.others: dict[str, str] = {}
        self.inner = logging.getLogRecordFactory()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        secrets = {self.token: "<bot-token>", **self.others} if self.token else self.others
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: leave it to logging to report
            return record
        redacted = text
        for secret, label in secrets.items():
            redacted = redacted.replace(secret, label)
        # What looks like a key (a user's message at DEBUG, a signature) is blanked too.
        redacted = scrub(redacted)
        if redacted != text:
            record.msg = redacted
            record.args = ()
        return record


def install_token_redaction(token: str) -> None:
    current = logging.getLogRecordFactory()
    if isinstance(current, _Redactor):
        current.token = token
        return
    logging.setLogRecordFactory(_Redactor(token))


def install_secret_redaction(secret: str, label: str) -> None:
    """Blank ``secret`` from every log record from now on, writing ``label`` instead."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _Redactor):
        current = _Redactor("")
        logging.setLogRecordFactory(current)
    current.others[secret] = label


async def open_services(
    settings: Settings,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    *,
    role: ProcessRole = "all",
    outbox: Callable[[Database, AlertStore], Notices] | None = None,
) -> DeskFactory:
    """Build every shared long-lived object once, in order, and the factory of the desks'
    own; ``stack`` closes them in reverse. The operator's desk is built here too.

    ``role`` ``"all"`` is the single process: it takes the single-instance lock and keeps its
    outbox in memory. Any other role is one of several processes on one PostgreSQL database
    (:mod:`bot.processes`): no instance lock (they coordinate through leases and advisory
    locks: a desk's orders, cycle and recovery hold its advisory lock), and ``outbox`` makes
    the outbox they share (the table the workers' senders drain).
    """
    s = settings
    db = Database(s.database_url, clock=clock)
    stack.push_async_callback(db.close)
    if role == "all":
        await db.acquire_lock()
    await db.start()
    source = KeySource.from_settings(s)
    # Secrets an older version stored in clear are sealed now; a key dropped too early is
    # found here, before anything trades.
    await Vault(db, source).seal_plaintext()
    desks = Desks(
        db,
        clock,
        operator_roles=s.roles,
        signup=s.signup,
        max_desks=s.max_desks,
        invite_ttl_seconds=s.invite_ttl_hours * 3600,
    )
    await desks.load()

    paper: PaperExchange | None = None
    if s.paper:
        paper = PaperExchange(s, clock)
        stack.push_async_callback(paper.stop)
        account_api, market_api = await paper.start(db)
        stack.push_async_callback(account_api.close)
        stack.push_async_callback(market_api.close)
    else:
        secret = s.backpack_api_secret.get_secret_value() if s.backpack_api_secret else None
        account_api = market_api = BackpackAPI(
            s.backpack_api_key,
            secret,
            s.backpack_api_url,
            s.backpack_ws_url,
            logging.getLogger("bot.exchange"),
            clock=clock,
            stream_silence_timeout=s.stale_stream_seconds,
        )
        stack.push_async_callback(account_api.close)

    hedges = await _open_hedges(s, db, clock, stack, BackpackVenue(account_api, market_api))
    alert_store = AlertStore(db)
    alert_service = AlertService(alert_store, market_api, clock, hysteresis=s.alert_hysteresis)
    notices: Notices = (
        Outbox(clock, alert_store.settings) if outbox is None else outbox(db, alert_store)
    )
    stack.push_async_callback(notices.stop)
    # One desk's orders, cycle and recovery at a time: across the set's processes, advisory
    # locks (on connections of their own); in the single process, this process's locks.
    locks = DeskLocks.of(db) if role != "all" else DeskLocks()
    stack.push_async_callback(locks.close)
    shared = Shared(
        settings=s,
        clock=clock,
        db=db,
        desks=desks,
        keys=DeskKeys(db, source),
        market_api=market_api,
        alert_store=alert_store,
        alerts=alert_service,
        outbox=notices,
        hedges=hedges,
        operator_api=account_api,
        paper=paper,
        locks=locks,
    )
    factory = DeskFactory(shared)
    stack.push_async_callback(factory.close)
    await factory.get(OPERATOR)
    return factory


async def _open_hedges(
    s: Settings, db: Database, clock: Clock, stack: contextlib.AsyncExitStack, primary: Venue
) -> OpenVenues:
    """Every hedge venue (``HEDGE_EXCHANGES``); ccxt is imported only when there is one."""
    if not s.hedge:
        return OpenVenues()
    return await open_hedges(s, db, clock, stack, primary)


def build_application(settings: Settings, *, clock: Clock | None = None) -> App:
    """Build the bot. Call ``settings.check()`` first for friendly configuration errors."""
    token = settings.telegram_bot_token.get_secret_value()
    install_token_redaction(token)
    the_clock = clock or SystemClock()
    stack = contextlib.AsyncExitStack()
    tail = LogTail(secret_values(settings))

    async def post_init(app: App) -> None:
        try:
            factory = await open_services(settings, the_clock, stack)
            shared = factory.shared
            shared.outbox.start(TelegramTransport(app.bot))
            jq: JobQueue[Any] | None = app.job_queue
            if jq is None:
                raise RuntimeError("python-telegram-bot[job-queue] is required")
            # Every desk with unfinished work settles it before any update is handled; the
            # desks whose strategy runs are built with them (their watchers start now).
            due = await desks_with_unfinished_work(shared.db)
            due |= await desks_with_strategy_on(shared.db)
            for desk_id in [OPERATOR, *sorted(due - {OPERATOR})]:
                services = await factory.get(desk_id)
                recovered = await services.recovery.run()
                recovery.announce(services, recovered)
                recovery.schedule(jq, services, recovered)
            await _start_stream(shared.market_api)
            await watchers.start_market_streams(shared)
            for services in factory.loaded():
                await watchers.start_desk_streams(services)
            factory.on_built += [recovery.on_build(jq), watchers.start_desk_streams]
            trading_jobs.schedule(jq, factory)
            watchers.schedule(jq, factory)
            strategy_jobs.schedule(jq, factory)
            desk_jobs.schedule(jq, factory)
            dashboard = await _start_dashboard(factory, token, stack)
        except BaseException:
            await stack.aclose()
            raise
        await present(app, factory, dashboard, tail)

    async def post_stop(app: App) -> None:
        """Updates and jobs have stopped; the bot can still talk: say what is queued."""
        services = app.bot_data.services
        if services is not None:
            await services.outbox.stop()

    async def post_shutdown(app: App) -> None:
        app.bot_data.services = None
        app.bot_data.factory = None
        app.bot_data.dashboard = None
        app.bot_data.log_tail = None
        logging.getLogger().removeHandler(tail)
        await stack.aclose()

    return new_application(
        settings, post_init=post_init, post_stop=post_stop, post_shutdown=post_shutdown
    )


def new_application(
    settings: Settings,
    *,
    post_init: Hook,
    post_shutdown: Hook,
    post_stop: Hook | None = None,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> App:
    """The ``Application`` with every handler, in order; the caller's hooks start and stop the
    services (the single process's in :func:`build_application`, a web process's in
    :mod:`bot.processes.web`). ``rate_limiter``: python-telegram-bot's per-process
    ``AIORateLimiter`` unless given (a web process's counts for the whole bot)."""
    token = settings.telegram_bot_token.get_secret_value()
    base = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base)
        .base_file_url(base.removesuffix("/bot") + "/file/bot")
        .context_types(ContextTypes(context=DeskContext, bot_data=BotData))
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .concurrent_updates(True)
    )
    if post_stop is not None:
        builder = builder.post_stop(post_stop)
    app = builder.build()
    app.add_handler(TypeHandler(Update, dedupe), group=-2)  # each update_id handled once
    app.add_handler(TypeHandler(Update, gate), group=-1)  # desks, strangers, roles
    for handlers in HANDLERS:
        app.add_handlers(handlers())
    app.add_handlers(general.fallback_handlers())  # last: unknown commands, text, buttons
    app.add_error_handler(on_error)
    return app


async def on_error(update: object, context: Context) -> None:
    error = context.error
    ref = fault_reference()
    if isinstance(error, Refused) and isinstance(update, Update):
        # A service refused past the gate (its own check): say why; it is not a fault.
        log.warning("refused by a service: %s", error)
        await send_refusal(update, error.refusal)
        return
    log.error("unhandled error (ref %s): %r", ref, error, exc_info=error)
    if isinstance(error, BackpackError) and isinstance(update, Update):
        try:  # the exchange's own words: the user may be able to act on them
            await reply(update, friendly(error, what_failed(update)))
        except Exception as exc:
            log.warning("could not report an error to the user: %s", exc)
        return
    await report_fault(update, ref)


async def present(
    app: App, factory: DeskFactory, dashboard: DashboardServer | None, tail: LogTail
) -> None:
    """The services are up: hand them to the handlers, show the command menu and the
    dashboard's menu button."""
    app.bot_data.services = await factory.get(OPERATOR)
    app.bot_data.factory = factory
    app.bot_data.help = HELP
    app.bot_data.dashboard = dashboard
    logging.getLogger().addHandler(tail)
    app.bot_data.log_tail = tail
    cmds = [*general.bot_commands(), *(BotCommand(n, d[:256]) for n, d, _ in HELP)]
    try:
        await app.bot.set_my_commands(cmds)
    except Exception as exc:  # a menu is nice to have; never fail start-up over it
        log.warning("set_my_commands failed: %s", exc)
    if dashboard is not None:
        try:  # the chat's menu button opens the dashboard
            await app.bot.set_chat_menu_button(menu_button=menu_button(dashboard.public_url))
        except Exception as exc:
            log.warning("set_chat_menu_button failed: %s", exc)


async def feed_update(app: App, data: dict[str, Any]) -> None:
    """Handle one update received as JSON (a web process's webhook): the same path as
    polling and python-telegram-bot's own webhook, awaited, so the caller answers Telegram
    only once it is handled."""
    update = Update.de_json(data, app.bot)
    await app.process_update(update)


async def start_polling(app: App, *, poll_timeout: int = 10) -> None:
    """Start ``app`` the way ``run_polling`` does, for callers that own the event loop (the
    local chat, the tests): initialize → post_init → polling → start."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
    except BaseException:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        raise
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    await app.start()


async def stop_polling(app: App) -> None:
    """Undo :func:`start_polling` in reverse, with ``post_stop`` and ``post_shutdown``."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


def secret_values(s: Settings) -> list[str]:
    """Every secret setting's value, for /logs to blank out."""
    values = [s.telegram_bot_token, s.hedge_credentials]
    values += [v for v in (s.backpack_api_secret, s.webhook_secret, s.local_chat_password) if v]
    return [v.get_secret_value() for v in values if v.get_secret_value()]


async def _start_dashboard(
    factory: DeskFactory, token: str, stack: contextlib.AsyncExitStack
) -> DashboardServer | None:
    """Serve the dashboard when someone can open it: ``WEBAPP_URL`` is set, or the local chat
    (whose ``web_app`` buttons open the local address)."""
    s = factory.shared.settings
    if not s.webapp_url and not s.local_chat:
        return None
    doors = DeskDoors(factory)
    connector = Connector(factory.shared.keys, VenueUrls.from_settings(s))
    server = DashboardServer(doors, token, door=doors, connector=connector)
    try:
        await server.start()
    except OSError as exc:
        if not s.local_chat:
            raise
        # The local chat must open with no setup: a busy default port is not worth failing.
        log.warning("dashboard port %s unavailable (%s); using a free one", s.webapp_port, exc)
        server.port = 0
        await server.start()
    stack.push_async_callback(server.stop)
    log.info("dashboard on %s (opened as %s)", server.url, server.public_url)
    return server


async def _start_stream(market_api: BackpackAPI) -> None:
    try:
        await asyncio.wait_for(market_api.start_ws_price_stream(), 10)
    except (TimeoutError, Exception) as exc:  # keep running; the stream retries by itself
        log.warning("price stream not up yet (%s); it keeps retrying", type(exc).__name__)
