"""The dashboard's JSON API: every call authenticated by Telegram's ``initData``, then the
user's role applies; the numbers come from the same services as the chat commands.

``Authorization: tma <initData>`` → 401 (and no data) when missing, forged or too old; 403 for
someone not on ``TELEGRAM_ALLOWED_USERS``; 403 for a role that may not do the action. A Close
from the page is a preview from :class:`~bot.services.orders.confirm.TradingService` with its
single-use token; ``/api/confirm`` claims that token exactly as the chat's ✅ does.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from aiohttp import web

from bot.clock import Clock
from bot.container import Services
from bot.exchange.errors import BackpackError
from bot.render import dashboard as render
from bot.render import trading as render_trading
from bot.services.access import Action, Actor, Refused, may
from bot.services.account.reports import PERIOD_MS, DashPeriod, ReportService
from bot.services.orders.confirm import Outcome
from bot.services.orders.intent import CloseIntent, IntentError
from bot.settings import Settings
from bot.storage.desk_locks import DeskBusy
from bot.venues.port import VenueError
from bot.webapp.auth import InitDataError, WebAppUser, validate

log = logging.getLogger("bot.webapp")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Endpoint = Callable[[web.Request, WebAppUser, Actor], Awaitable[web.StreamResponse]]
_TAG = re.compile(r"<[^>]+>")
_SYMBOL = re.compile(r"^[A-Z0-9_]{2,40}$")


def plain(text: str) -> str:
    """The chat's HTML as plain text (the page shows it with ``textContent``)."""
    return html.unescape(_TAG.sub("", text))


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Doors(Protocol):
    """What the dashboard needs from the bot: its settings and clock, and each user's desk."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    async def services_for(self, user_id: int) -> Services | None:
        """The services of ``user_id``'s active desk (``None``: a member of no desk)."""
        ...


def reports(request: web.Request) -> ReportService:
    """The reports of the desk behind ``request``."""
    services = desk(request)
    return ReportService(services.journal, services.clock)


#: The desk of the user behind a request, set by :func:`authenticated`.
DESK = web.RequestKey("desk", Services)


def desk(request: web.Request) -> Services:
    """The desk of the user behind ``request`` (set by :func:`authenticated`)."""
    return request[DESK]


def authenticated(doors: Doors, token: str, endpoint: Endpoint, action: Action) -> Handler:
    """``endpoint`` behind Telegram's ``initData`` (401) and the user's role on their active
    desk (403); the desk is ``desk(request)`` inside."""

    async def handler(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, init_data = header.partition(" ")
        try:
            if scheme.lower() != "tma":
                raise InitDataError("no initData")
            user = validate(init_data.strip(), token, doors.clock, doors.settings.webapp_max_age)
        except InitDataError as exc:
            return error(401, f"Not signed by Telegram: {exc}. Open the dashboard again.")
        services = await doors.services_for(user.id)
        role = services.role_of(user.id) if services is not None else None
        if services is None or role is None:
            log.warning("dashboard refused unauthorised user id=%s", user.id)
            return error(403, "This bot is private.")
        if not may(role, action):
            return error(403, f"Your role ({role}) may not do this.")
        actor = Actor(
            user.id,
            role,
            user.id,  # a Mini App opened from the private chat acts there
            "private",
            services.allowed_groups,
        )
        request[DESK] = services
        try:
            return await endpoint(request, user, actor)
        except Refused as exc:  # the service's own check (the second line of defence)
            return error(403, exc.refusal.short)
        except DeskBusy as exc:  # another order of the desk is on its way; nothing was sent
            return error(409, exc.text)
        except (BackpackError, VenueError) as exc:
            log.warning("dashboard %s: %s", request.path, exc)
            return error(502, f"The exchange did not answer: {exc}")

    return handler


class DashboardApi:
    """Positions, PnL, funding, trades and Close → ✅ under ``/api/``."""

    def __init__(self, token: str, doors: Doors) -> None:
        self._token = token
        self.doors = doors

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/me", self._auth(self.me, Action.GENERAL))
        r.add_get("/api/positions", self._auth(self.positions, Action.ACCOUNT))
        r.add_get("/api/pnl", self._auth(self.pnl, Action.ACCOUNT))
        r.add_get("/api/funding", self._auth(self.funding, Action.ACCOUNT))
        r.add_get("/api/trades", self._auth(self.trades, Action.ACCOUNT))
        r.add_post("/api/close", self._auth(self.close, Action.TRADE))
        r.add_post("/api/confirm", self._auth(self.confirm, Action.TRADE))
        r.add_post("/api/cancel", self._auth(self.cancel, Action.TRADE))

    def _auth(self, endpoint: Endpoint, action: Action) -> Handler:
        return authenticated(self.doors, self._token, endpoint, action)

    async def me(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        s = desk(request)
        return web.json_response(
            {
                "id": user.id,
                "name": user.first_name,
                "role": actor.role,
                "mode": s.mode,
                "may_trade": actor.refusal(Action.TRADE) is None,
                "may_configure": actor.refusal(Action.STRATEGY) is None,
            }
        )

    async def positions(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        s = desk(request)
        rows = render.positions(await s.account.positions(actor), s.venue.name)
        notes = []
        cross = s.strategy.cross
        if cross is not None:  # the hedge account is ours to read only when it trades
            try:
                rows += render.hedge_positions(cross.hedge.name, await cross.hedge.positions())
            except VenueError as exc:
                notes.append(f"{cross.hedge.name}: positions unreadable ({exc.message})")
        return web.json_response({"mode": s.mode, "positions": rows, "notes": notes})

    def _period(self, request: web.Request) -> DashPeriod | None:
        period = request.query.get("period", "all")
        return period if period in PERIOD_MS else None  # type: ignore[return-value]

    async def pnl(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        period = self._period(request)
        if period is None:
            return error(400, "period must be day, week, month or all")
        report, points = await reports(request).pnl(period, actor)
        return web.json_response(render.pnl(report, render.equity_svg(points)))

    async def funding(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        period = self._period(request)
        if period is None:
            return error(400, "period must be day, week, month or all")
        report, _ = await reports(request).pnl(period, actor)
        rows = render.funding(report, desk(request).venue.name)
        cross = desk(request).strategy.cross
        if cross is not None:
            since = reports(request).since(period)
            paid = await cross.hedge_funding(since or 0)
            rows += render.hedge_funding(cross.hedge.name, paid)
        return web.json_response({"title": render.PERIOD_TITLES[period], "rows": rows})

    async def trades(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        records = await desk(request).strategy.trades(actor, limit=20)
        return web.json_response({"trades": render.trades(records)})

    async def close(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        body = await read_json(request)
        symbol = str(body.get("symbol", ""))
        if not _SYMBOL.match(symbol):
            return error(400, "Which position? Send its symbol, e.g. BTC_USDC_PERP.")
        try:
            preview = await desk(request).trading.preview(actor, CloseIntent(symbol))
        except IntentError as exc:
            return error(400, plain(render_trading.intent_error(exc)))
        return web.json_response(
            {
                "token": preview.token,
                "text": plain(render_trading.preview(preview)),
                "ttl": preview.ttl_seconds,
            }
        )

    async def confirm(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        token = str((await read_json(request)).get("token", ""))
        outcome = await desk(request).trading.confirm(actor, token)
        return web.json_response(_outcome(outcome))

    async def cancel(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        token = str((await read_json(request)).get("token", ""))
        outcome = await desk(request).trading.cancel(actor, token)
        return web.json_response(_outcome(outcome))


def _outcome(outcome: Outcome) -> dict[str, Any]:
    text = render_trading.results(outcome) or render_trading.alert(outcome)[0]
    fresh = outcome.new_preview
    return {
        "status": outcome.status.value,
        "text": plain(text),
        "orders": outcome.order_ids,
        "token": fresh.token if fresh is not None else None,
        "preview": plain(render_trading.preview(fresh)) if fresh is not None else None,
    }


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json(loads=lambda s: json.loads(s, parse_float=Decimal))
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body is not JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data
