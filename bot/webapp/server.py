"""The dashboard's aiohttp server: the page and its assets from ``static/`` (no CDN, no build
step, a strict CSP) and the JSON API (:mod:`bot.webapp.api`), on ``WEBAPP_HOST``:``WEBAPP_PORT``.
With a :class:`~bot.webapp.connect.DeskDoor` it also serves the form that connects a desk's own
keys (``GET /connect``, :mod:`bot.webapp.connect`).

Started and stopped by the composition root (``post_init`` / ``post_shutdown``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from bot.desks.connect import Connector
from bot.httpserve import start_site
from bot.webapp.api import DashboardApi, Doors
from bot.webapp.connect import ConnectApi, DeskDoor
from bot.webapp.manage import ManageApi

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1024 * 1024
#: Scripts, styles and data only from the bot itself; Telegram's clients may frame the page.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)
_TYPES = {
    "index.html": "text/html",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "icon.svg": "image/svg+xml",
    "telegram.js": "text/javascript",
    "connect.html": "text/html",
    "connect.js": "text/javascript",
    "connect.css": "text/css",
}
_PAGES = ("index.html", "connect.html")


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


class DashboardServer:
    """``await server.start()`` → ``server.url`` (where it listens) and ``server.public_url``
    (``WEBAPP_URL``, or ``url`` when unset).

    ``doors`` finds each user's desk; with ``door`` and ``connector`` (the desks' side and the
    checks that seal keys) it also serves ``/connect``."""

    def __init__(
        self,
        doors: Doors,
        token: str,
        *,
        door: DeskDoor | None = None,
        connector: Connector | None = None,
    ) -> None:
        s = doors.settings
        self.host = s.webapp_host
        self.port = s.webapp_port
        self.configured_url = s.webapp_url
        self.api = DashboardApi(token, doors)
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[_headers])
        self.app.router.add_get("/", self.index)
        self.app.router.add_get("/static/{name}", self.static)
        self.api.add_routes(self.app)
        ManageApi(token, doors).add_routes(self.app)
        self.connect: ConnectApi | None = None
        if door is not None and connector is not None:
            self.connect = ConnectApi(token, doors.clock, s.webapp_max_age, door, connector)
            self.connect.add_routes(self.app)
            self.app.router.add_get("/connect", self.connect_page)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def public_url(self) -> str:
        """The address the ``web_app`` button opens (always ends with ``/``)."""
        base = self.configured_url or self.url
        return base if base.endswith("/") else base + "/"

    def connect_url(self, venue: str) -> str:
        """The form's address for ``venue`` (what ``/connect <venue>``'s button opens)."""
        return f"{self.public_url}connect?venue={venue}"

    async def index(self, request: web.Request) -> web.StreamResponse:
        return _asset("index.html")

    async def connect_page(self, request: web.Request) -> web.StreamResponse:
        return _asset("connect.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _TYPES or name in _PAGES:
            raise web.HTTPNotFound()
        return _asset(name)

    async def start(self) -> None:
        self._runner, self.url = await start_site(self.app, self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _asset(name: str) -> web.Response:
    body = (STATIC / name).read_bytes()
    return web.Response(body=body, content_type=_TYPES[name], charset="utf-8")
