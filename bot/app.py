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
from collections.abc import Callable
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    ContextTypes,
    JobQueue,
    TypeHandler,
)

from bot.alerts.service import AlertService
from bot.clock import Clock, SystemClock
from bot.container import HelpLine, Services
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.keyring.source import KeySource
from bot.keyring.spot import scrub
from bot.keyring.vault import Vault
from bot.paper import PaperExchange
from bot.render.dashboard import menu_button
from bot.services.access import Refused, reads_only
from bot.services.account.journal import JournalService
from bot.services.account.views import AccountService
from bot.services.health import LogTail
from bot.services.market import MarketService
from bot.services.notices.fills import FillFeed
from bot.services.notices.outbox import Outbox
from bot.services.notices.watchers import WatchConfig, WatcherService
from bot.services.orders.confirm import TradingConfig, TradingService
from bot.services.orders.sender import OrderSender
from bot.services.recovery import RecoveryService
from bot.services.strategy.arb import ArbConfig, ArbService
from bot.services.strategy.control import StrategyService
from bot.services.strategy.cross import CrossDesk
from bot.settings import Settings
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.events import EventStore
from bot.storage.strategy import StrategyStore
from bot.storage.trading import TradingStore
from bot.venues.backpack import BackpackVenue
from bot.venues.opening import OpenVenues, open_hedges
from bot.venues.port import Venue
from bot.webapp.server import DashboardServer
from handlers import (
    account,
    alerts,
    arb,
    dashboard,
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
    command_of,
    fault_reference,
    friendly,
    reply,
    report_fault,
    what_failed,
)
from handlers.guard import drop_secret, refusal_for_update, send_refusal
from jobs import recovery, watchers
from jobs import strategy as strategy_jobs
from jobs import trading as trading_jobs
from jobs.outbox import TelegramTransport

log = logging.getLogger("bot.app")

App = Application[Any, Any, Any, Any, Any, Any]

#: Handlers in the order they are tried (the first match wins within a group).
HANDLERS: list[Callable[[], list[BaseHandler[Any, Any, Any]]]] = [
    general.handlers,
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
    settings: Settings, clock: Clock, stack: contextlib.AsyncExitStack
) -> Services:
    """Build every long-lived object once, in order; ``stack`` closes them in reverse."""
    s = settings
    db = Database(s.database_url, clock=clock)
    stack.push_async_callback(db.close)
    await db.acquire_lock()
    await db.start()
    # Secrets an older version stored in clear are sealed now; a key dropped too early is
    # found here, before anything trades.
    await Vault(db, KeySource.from_settings(s)).seal_plaintext()

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

    primary = BackpackVenue(account_api, market_api)
    hedges = await _open_hedges(s, db, clock, stack, primary)
    hedge = hedges.first
    #: The hedge venues orders may go to: live, or the offline simulators in paper mode. On
    #: real data in paper mode only the first trades (on a paper account); others compare.
    hedge_orders = (
        hedge if hedge is not None and next(iter(hedges.venues)) in hedges.tradable else None
    )
    arb_service = (
        ArbService(
            primary,
            hedge,
            ArbConfig(
                s.arb_notional,
                s.arb_horizon_hours,
                tuple(s.hedge_symbols),
                min_open_interest=s.arb_min_open_interest,
                min_volume_24h=s.arb_min_volume_24h,
            ),
            clock,
            hedges=hedges.venues,
            tradable=frozenset(hedges.tradable),
        )
        if hedge is not None
        else None
    )

    trading_store = TradingStore(db)
    orders = OrderSender(
        account_api,
        trading_store,
        mode=s.trading_mode,
        before_send=paper.sync_market if paper is not None and paper.real_data else None,
        clock=clock,
        logger=logging.getLogger("bot.orders"),
        hedge=hedge_orders,
        venues=hedges.orders(),
    )
    market_service = MarketService(market_api, account_api, clock)
    account_service = AccountService(account_api, orders)
    trading_service = TradingService(
        account_api,
        trading_store,
        TradingConfig(
            mode=s.trading_mode,
            max_order_notional=s.max_order_notional,
            confirm_ttl_seconds=s.confirm_ttl_seconds,
            price_drift_tolerance=s.price_drift_tolerance,
            limit_price_band=s.limit_price_band,
        ),
        market_data=market_api,
        sender=orders,
        clock=clock,
        logger=logging.getLogger("bot.trading"),
    )
    strategy_store = StrategyStore(db)
    journal = JournalService(strategy_store, account_api, market_api, clock, s.trading_mode)
    strategy_service = StrategyService(
        strategy_store,
        market_api,
        account_api,
        journal,
        clock,
        trading_mode=s.trading_mode,
        orders=orders,
        trading=trading_service,
        confirm_ttl_seconds=s.confirm_ttl_seconds,
        cross=(
            CrossDesk(arb_service, account_api, hedge_orders, strategy_store)
            if arb_service is not None and hedge_orders is not None
            else None
        ),
    )
    alert_store = AlertStore(db)
    alert_service = AlertService(alert_store, market_api, clock, hysteresis=s.alert_hysteresis)
    watcher_service = WatcherService(
        WatchConfig(
            users=tuple(s.telegram_allowed_users),
            funding_notice_minutes=s.funding_notice_minutes,
            liquidation_warning_distance=s.liquidation_warning_distance,
            stale_stream_seconds=s.stale_stream_seconds,
            roles=s.roles,
        ),
        alert_service,
        alert_store,
        market_api,
        account_api,
        account_service,
        clock,
    )
    outbox = Outbox(clock, alert_store.settings)
    stack.push_async_callback(outbox.stop)
    events = EventStore(db)
    fills = FillFeed(watcher_service, events, account_api, clock)
    stack.push_async_callback(fills.stop)
    return Services(
        settings=s,
        clock=clock,
        db=db,
        paper=paper,
        market_api=market_api,
        account_api=account_api,
        orders=orders,
        market=market_service,
        venue=primary,
        hedge=hedge,
        arb=arb_service,
        account=account_service,
        trading=trading_service,
        journal=journal,
        strategy=strategy_service,
        alert_store=alert_store,
        alerts=alert_service,
        watchers=watcher_service,
        outbox=outbox,
        recovery=RecoveryService(orders, trading_service, strategy_service),
        fills=fills,
        events=events,
    )


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
    allowed = frozenset(settings.telegram_allowed_users)
    refused: set[int] = set()
    stack = contextlib.AsyncExitStack()
    tail = LogTail(_secrets(settings))

    async def post_init(app: App) -> None:
        try:
            services = await open_services(settings, the_clock, stack)
            services.outbox.start(TelegramTransport(app.bot))
            recovered = await services.recovery.run()
            recovery.announce(services, recovered)
            await _start_stream(services)
            await watchers.start_streams(services)
            jq: JobQueue[Any] | None = app.job_queue
            if jq is None:
                raise RuntimeError("python-telegram-bot[job-queue] is required")
            trading_jobs.schedule(jq, services)
            watchers.schedule(jq, services)
            strategy_jobs.schedule(jq, services)
            recovery.schedule(jq, services, recovered)
            app.bot_data.dashboard = await _start_dashboard(services, token, stack)
        except BaseException:
            await stack.aclose()
            raise
        app.bot_data.services = services
        app.bot_data.help = HELP
        logging.getLogger().addHandler(tail)
        app.bot_data.log_tail = tail
        cmds = [*general.bot_commands(), *(BotCommand(n, d[:256]) for n, d, _ in HELP)]
        try:
            await app.bot.set_my_commands(cmds)
        except Exception as exc:  # a menu is nice to have; never fail start-up over it
            log.warning("set_my_commands failed: %s", exc)
        if app.bot_data.dashboard is not None:
            try:  # the chat's menu button opens the dashboard
                await app.bot.set_chat_menu_button(
                    menu_button=menu_button(app.bot_data.dashboard.public_url)
                )
            except Exception as exc:
                log.warning("set_chat_menu_button failed: %s", exc)

    async def post_stop(app: App) -> None:
        """Updates and jobs have stopped; the bot can still talk: say what is queued."""
        services = app.bot_data.services
        if services is not None:
            await services.outbox.stop()

    async def post_shutdown(app: App) -> None:
        app.bot_data.services = None
        app.bot_data.dashboard = None
        app.bot_data.log_tail = None
        logging.getLogger().removeHandler(tail)
        await stack.aclose()

    async def gate(update: object, context: Context) -> None:
        """Every update passes here first: keys pasted in the chat, strangers, roles, group
        rules, edits."""
        if not isinstance(update, Update):
            return
        if await drop_secret(update):  # a key pasted in the chat: gone before anyone reads it
            raise ApplicationHandlerStop
        user = update.effective_user
        if user is None or user.id not in allowed:
            await _refuse(update, user.id if user else None, refused)
            raise ApplicationHandlerStop
        edited = update.edited_message
        if edited is not None and not reads_only(command_of(edited)):
            await edited.chat.send_message("✏️ Edits are ignored; send a new command.")
            raise ApplicationHandlerStop
        refusal = refusal_for_update(update, settings)
        if refusal is not None:
            await send_refusal(update, refusal)
            raise ApplicationHandlerStop

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

    base = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base)
        .base_file_url(base.removesuffix("/bot") + "/file/bot")
        .context_types(ContextTypes(bot_data=BotData))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .concurrent_updates(True)
    )
    app = builder.build()
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for handlers in HANDLERS:
        app.add_handlers(handlers())
    app.add_handlers(general.fallback_handlers())  # last: unknown commands, text, buttons
    app.add_error_handler(on_error)
    return app


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


def _secrets(s: Settings) -> list[str]:
    """Every secret setting's value, for /logs to blank out."""
    values = [s.telegram_bot_token, s.hedge_credentials]
    values += [v for v in (s.backpack_api_secret, s.webhook_secret, s.local_chat_password) if v]
    return [v.get_secret_value() for v in values if v.get_secret_value()]


async def _start_dashboard(
    services: Services, token: str, stack: contextlib.AsyncExitStack
) -> DashboardServer | None:
    """Serve the dashboard when someone can open it: ``WEBAPP_URL`` is set, or the local chat
    (whose ``web_app`` buttons open the local address)."""
    s = services.settings
    if not s.webapp_url and not s.local_chat:
        return None
    server = DashboardServer(services, token)
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


async def _start_stream(services: Services) -> None:
    try:
        await asyncio.wait_for(services.market_api.start_ws_price_stream(), 10)
    except (TimeoutError, Exception) as exc:  # keep running; the stream retries by itself
        log.warning("price stream not up yet (%s); it keeps retrying", type(exc).__name__)


async def _refuse(update: Update, uid: int | None, refused: set[int]) -> None:
    log.warning("refused update from unauthorised user id=%s", uid)
    if update.callback_query is not None:
        await update.callback_query.answer("This bot is private.", show_alert=True)
    elif update.effective_chat is not None and uid is not None and uid not in refused:
        refused.add(uid)
        await update.effective_chat.send_message(
            "Sorry, this is a private trading bot and you are not on its list of users."
        )
