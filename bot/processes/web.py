"""``python -m bot web --host H --port P``: one of N stateless web processes.

Each serves, on one port: Telegram's webhook at ``POST /webhook`` (the secret token checked,
each ``update_id`` handled once across every process and never lost — the webhook claims it in
the database for this process before handling it, :class:`bot.storage.updates.UpdateClaims`),
the Mini App's pages and API, and the key form. A web
process holds nothing of its own: desks' services are built on demand from the database, what
the bot says unasked goes to the outbox table (the workers' senders deliver it), and every order
is placed on the one journaled path under its desk's lock, so a web process killed mid-order is
settled by a worker's recovery and any other web process can take the next update.

Telegram is answered ``200`` only once the update is handled: a process killed before that
leaves Telegram to deliver it again (after its own timeout), and the process that receives the
redelivery takes the dead process's claim over and handles it. A redelivery of an update that
was handled, or that a live process is still handling, is dropped (``200``, nothing sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from typing import Any

from aiohttp import web

from bot.app import App, feed_update, new_application, present, secret_values
from bot.clock import Clock, SystemClock
from bot.desks.connect import Connector, VenueUrls
from bot.desks.doors import DeskDoors
from bot.desks.factory import DeskFactory
from bot.faults import crash_point
from bot.processes.compose import open_shared
from bot.processes.coord import ProcessRecord
from bot.services.health import LogTail
from bot.services.notices.limits import Limits
from bot.settings import Settings
from bot.storage.updates import UpdateClaims
from bot.webapp.server import DashboardServer
from handlers.dedupe import dedupe
from jobs.outbox import TelegramTransport
from jobs.ratelimit import SharedRateLimiter

log = logging.getLogger("bot.web")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


class Webhook:
    """``POST /webhook``: Telegram's updates, refused without the secret token."""

    def __init__(self, app: App, secret: str, claims: UpdateClaims) -> None:
        self.app = app
        self.secret = secret.encode()
        self.claims = claims
        self.handled = 0

    async def __call__(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return web.Response(status=403, text="wrong or missing secret token")
        try:
            data: Any = await request.json()
        except ValueError:
            return web.Response(status=400, text="the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update (no update_id)")
        update_id: int = data["update_id"]
        if not await self.claims.claim(update_id):
            log.info("update %s was delivered again; handled or in hand, dropped", update_id)
            return web.Response(text="ok")
        crash_point("update-claimed")
        try:
            await feed_update(self.app, data)
        except Exception:
            await self.claims.release(update_id)
            raise
        await self.claims.handled(update_id)
        self.handled += 1
        return web.Response(text="ok")


class WebProcess:
    """The Application without polling, and the HTTP server in front of it."""

    def __init__(self, settings: Settings, host: str, port: int, clock: Clock) -> None:
        self.settings = settings.model_copy(update={"webapp_host": host, "webapp_port": port})
        self.clock = clock
        self.stack = contextlib.AsyncExitStack()
        self.tail = LogTail(secret_values(settings))
        self.server: DashboardServer | None = None
        # Replies count in the bot-wide window the outbox's senders keep (bound to the
        # database in _post_init, before any update is taken).
        self.limiter = SharedRateLimiter(Limits(overall=settings.telegram_messages_per_second))
        self.app = new_application(
            self.settings,
            post_init=self._post_init,
            post_shutdown=self._post_shutdown,
            rate_limiter=self.limiter,
        )
        # The webhook claims each update itself (it knows this process's id); the single
        # process's record-before-handling would drop the update the claim just took in.
        for handler in list(self.app.handlers.get(-2, [])):
            if getattr(handler, "callback", None) is dedupe:
                self.app.remove_handler(handler, group=-2)

    async def _post_init(self, app: App) -> None:
        s = self.settings
        token = s.telegram_bot_token.get_secret_value()
        secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
        try:
            factory = await open_shared(s, self.clock, self.stack, role="web")
            self.limiter.bind(factory.shared.db, self.clock)
            factory.shared.outbox.start(TelegramTransport(app.bot))  # the table: unused
            record = ProcessRecord(factory.shared.db, "web", self.clock)
            await record.start()
            self.stack.push_async_callback(record.stop)
            self.server = self._server(factory, token)
            claims = UpdateClaims(factory.shared.db, self.clock, record.id)
            self.server.app.router.add_post("/webhook", Webhook(app, secret, claims))
            await self.server.start()
            self.stack.push_async_callback(self.server.stop)
        except BaseException:
            await self.stack.aclose()
            raise
        await present(app, factory, self.server, self.tail)
        if s.webhook_url:  # every web process says the same; Telegram keeps one
            await app.bot.set_webhook(s.webhook_url, secret_token=secret)
        log.info("web process on %s: webhook at /webhook", self.server.url)

    def _server(self, factory: DeskFactory, token: str) -> DashboardServer:
        doors = DeskDoors(factory)
        connector = Connector(factory.shared.keys, VenueUrls.from_settings(self.settings))
        return DashboardServer(doors, token, door=doors, connector=connector)

    async def _post_shutdown(self, app: App) -> None:
        app.bot_data.services = None
        app.bot_data.factory = None
        app.bot_data.dashboard = None
        logging.getLogger().removeHandler(self.tail)
        await self.stack.aclose()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then stop taking updates and close everything."""
        await self.app.initialize()
        try:
            await self._post_init(self.app)
            await self.app.start()
            await stop.wait()
        finally:
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
            await self._post_shutdown(self.app)


async def run_web(settings: Settings, host: str, port: int, *, clock: Clock | None = None) -> int:
    """Serve until SIGTERM or SIGINT; the CLI (:mod:`bot.processes.cli`) checks the settings."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await WebProcess(settings, host, port, clock or SystemClock()).serve(stop)
    return 0
