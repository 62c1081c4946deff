"""The dashboard's alert, strategy and arbitrage endpoints: the same services, parsing and
limits as ``/alert``, ``/strategy`` and ``/arb``; changing the strategy is for owners only."""

from __future__ import annotations

import logging
from decimal import Decimal

from aiohttp import web

from bot.alerts.parse import EXAMPLES, AlertSyntaxError, parse_alert
from bot.alerts.service import AlreadyTrue
from bot.container import Services
from bot.exchange.errors import BackpackError
from bot.render import alerts as render_alerts
from bot.render import arb as render_arb
from bot.render import dashboard as render
from bot.render import strategy as render_strategy
from bot.services.access import Action, Actor
from bot.services.account.reports import SPREAD_HOURS, spread_series
from bot.storage.strategy import MODES
from bot.strategy.history import parse_ts_ms
from bot.strategy.model import CONFIG_KEYS, ConfigError
from bot.venues.port import HistoryVenue, VenueError
from bot.venues.spread import Leg
from bot.webapp.api import (
    Doors,
    Endpoint,
    Handler,
    authenticated,
    desk,
    error,
    plain,
    read_json,
)
from bot.webapp.auth import WebAppUser

log = logging.getLogger("bot.webapp")
#: How many of the best spreads get a history chart.
SPREADS_DRAWN = 5


class ManageApi:
    """``/api/alerts``, ``/api/strategy``, ``/api/arb``."""

    def __init__(self, token: str, doors: Doors) -> None:
        self._token = token
        self.doors = doors

    def _auth(self, endpoint: Endpoint, action: Action) -> Handler:
        return authenticated(self.doors, self._token, endpoint, action)

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/alerts", self._auth(self.alerts, Action.ALERTS))
        r.add_post("/api/alerts", self._auth(self.add_alert, Action.ALERTS))
        r.add_post("/api/alerts/remove", self._auth(self.remove_alert, Action.ALERTS))
        r.add_get("/api/strategy", self._auth(self.strategy, Action.ACCOUNT))
        r.add_post("/api/strategy/mode", self._auth(self.set_mode, Action.STRATEGY))
        r.add_post("/api/strategy/set", self._auth(self.set_config, Action.STRATEGY))
        r.add_get("/api/arb", self._auth(self.arb, Action.MARKET))

    async def alerts(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        mine = await desk(request).alerts.for_user(actor)
        rows = [
            {"id": a.id, "symbol": a.symbol, "condition": plain(render_alerts.condition(a))}
            for a in mine
        ]
        return web.json_response({"alerts": rows, "examples": list(EXAMPLES)})

    async def add_alert(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        body = await read_json(request)
        text = str(body.get("text", ""))[:200]
        try:
            spec = parse_alert(text.split())
            if spec.kind == "spread_apr" and desk(request).arb is None:
                return error(400, plain(render_arb.no_hedge()))
            anyway = body.get("anyway") is True
            created = await desk(request).alerts.add(actor, spec, anyway=anyway)
        except AlertSyntaxError as err:
            return error(400, plain(render_alerts.usage(err.problem)))
        except AlreadyTrue as held:
            # As in the chat: not armed silently; the page asks, then sends "anyway": true.
            said, _ = render_alerts.already_true(held.symbol, held.spec, held.current)
            return web.json_response({"error": plain(said), "already": True}, status=409)
        return web.json_response(
            {"id": created.id, "text": plain(render_alerts.created(created, spec))}
        )

    async def remove_alert(
        self, request: web.Request, user: WebAppUser, actor: Actor
    ) -> web.Response:
        raw = (await read_json(request)).get("id")
        if not isinstance(raw, int) or isinstance(raw, bool):
            return error(400, "Which alert? Send its id (a number).")
        if not await desk(request).alerts.remove(actor, raw):
            return error(404, f"There is no alert #{raw} of yours.")
        return web.json_response({"removed": raw})

    async def strategy(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        svc = desk(request).strategy
        status = await svc.status(actor)
        return web.json_response(
            {
                "mode": status.mode,
                "paused": status.paused,
                "trading_mode": status.trading_mode,
                "modes": list(MODES),
                "config": status.config.to_dict(),
                "status": plain(render_strategy.status(status)),
            }
        )

    async def set_mode(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        mode = str((await read_json(request)).get("mode", "")).lower()
        if mode not in MODES:
            return error(400, f"The mode is one of {', '.join(MODES)}.")
        await desk(request).strategy.set_mode(mode, actor=actor)
        return web.json_response({"mode": mode})

    async def set_config(
        self, request: web.Request, user: WebAppUser, actor: Actor
    ) -> web.Response:
        body = await read_json(request)
        key, value = str(body.get("key", "")).lower(), str(body.get("value", ""))[:200]
        if key not in CONFIG_KEYS:
            return error(400, f"Unknown setting {key[:40]!r}.")
        if key == "symbols":
            return error(400, "Change the strategy's markets in the chat: /strategy set symbols …")
        try:
            updated = await desk(request).strategy.set_config(key, value, actor=actor)
        except ConfigError as err:
            return error(400, str(err))
        return web.json_response({"key": key, "value": updated.to_dict()[key]})

    async def arb(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        s = desk(request)
        if s.arb is None:
            return web.json_response({"configured": False, "text": plain(render_arb.no_hedge())})
        scan = await s.arb.scan()
        text = render_arb.scan(scan, s.arb.primary.name, s.arb.hedge.name, s.clock)
        charts = []
        for edge in scan.edges[:SPREADS_DRAWN]:
            points = await self._history(s, edge.short, edge.long)
            charts.append({"base": edge.base, "svg": render.spread_svg(points)})
        return web.json_response({"configured": True, "text": plain(text), "history": charts})

    async def _history(self, s: Services, short: Leg, long: Leg) -> list[tuple[int, Decimal]]:
        """The pair's spread over the last :data:`SPREAD_HOURS` from both venues' settled
        rates; empty when a venue's history cannot be read."""
        since = int(s.clock.time() * 1000) - SPREAD_HOURS * 3_600_000
        try:
            a = await self._rates(s, short, since)
            b = await self._rates(s, long, since)
        except (BackpackError, VenueError) as exc:
            log.info("spread history of %s unavailable: %s", short.market.symbol, exc)
            return []
        return spread_series(a, short.funding.interval_hours, b, long.funding.interval_hours)

    async def _rates(self, s: Services, leg: Leg, since: int) -> list[tuple[int, Decimal]]:
        if s.hedge is not None and leg.venue == s.hedge.name and isinstance(s.hedge, HistoryVenue):
            return await s.hedge.rate_history(leg.market.symbol, since)
        rows = await s.market_api.get_funding_history(leg.market.symbol, limit=SPREAD_HOURS)
        out = [
            (parse_ts_ms(r["intervalEndTimestamp"]), Decimal(str(r["fundingRate"]))) for r in rows
        ]
        return sorted(p for p in out if p[0] >= since)
