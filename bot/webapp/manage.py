"""The dashboard's alert, strategy and arbitrage endpoints: the same services, parsing and
limits as ``/alert``, ``/strategy`` and ``/arb``; changing the strategy is for owners only."""

from __future__ import annotations

from aiohttp import web

from bot.alerts.parse import EXAMPLES, AlertSyntaxError, parse_alert
from bot.container import Services
from bot.render import alerts as render_alerts
from bot.render import arb as render_arb
from bot.render import strategy as render_strategy
from bot.services.access import Action, Actor
from bot.storage.strategy import MODES
from bot.strategy.model import CONFIG_KEYS, ConfigError
from bot.webapp.api import Endpoint, Handler, authenticated, error, plain, read_json
from bot.webapp.auth import WebAppUser


class ManageApi:
    """``/api/alerts``, ``/api/strategy``, ``/api/arb``."""

    def __init__(self, token: str, services: Services) -> None:
        self._token = token
        self.services = services

    def _auth(self, endpoint: Endpoint, action: Action) -> Handler:
        return authenticated(self.services, self._token, endpoint, action)

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
        mine = await self.services.alerts.for_user(actor)
        rows = [
            {"id": a.id, "symbol": a.symbol, "condition": plain(render_alerts.condition(a))}
            for a in mine
        ]
        return web.json_response({"alerts": rows, "examples": list(EXAMPLES)})

    async def add_alert(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        text = str((await read_json(request)).get("text", ""))[:200]
        try:
            spec = parse_alert(text.split())
            if spec.kind == "spread_apr" and self.services.arb is None:
                return error(400, plain(render_arb.no_hedge()))
            created = await self.services.alerts.add(actor, spec)
        except AlertSyntaxError as err:
            return error(400, plain(render_alerts.usage(err.problem)))
        return web.json_response(
            {"id": created.id, "text": plain(render_alerts.created(created, spec))}
        )

    async def remove_alert(
        self, request: web.Request, user: WebAppUser, actor: Actor
    ) -> web.Response:
        raw = (await read_json(request)).get("id")
        if not isinstance(raw, int) or isinstance(raw, bool):
            return error(400, "Which alert? Send its id (a number).")
        if not await self.services.alerts.remove(actor, raw):
            return error(404, f"There is no alert #{raw} of yours.")
        return web.json_response({"removed": raw})

    async def strategy(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        svc = self.services.strategy
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
        await self.services.strategy.set_mode(mode, actor=actor)
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
            updated = await self.services.strategy.set_config(key, value, actor=actor)
        except ConfigError as err:
            return error(400, str(err))
        return web.json_response({"key": key, "value": updated.to_dict()[key]})

    async def arb(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.Response:
        s = self.services
        if s.arb is None:
            return web.json_response({"configured": False, "text": plain(render_arb.no_hedge())})
        scan = await s.arb.scan()
        text = render_arb.scan(scan, s.arb.primary.name, s.arb.hedge.name, s.clock)
        return web.json_response({"configured": True, "text": plain(text)})
