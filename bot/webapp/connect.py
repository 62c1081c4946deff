"""Connecting a desk's own keys from the Mini App: ``GET /connect?venue=backpack|hyperliquid``
(the form), ``POST /api/connections``, ``POST /api/connect`` and ``POST /api/disconnect``.

The key and secret go from the form straight to the bot over HTTPS, never through the chat.
Every call carries Telegram's ``initData`` (in the JSON body as ``initData``, or the dashboard's
``Authorization: tma …`` header) → 401 when missing, forged or too old. The desk is the user's
active desk as the :class:`DeskDoor` says, and only its owner may connect or disconnect (403
with a sentence). Bad input → 400 with the specific sentence; the venue refusing the key → 400;
the venue unreachable → 502; no ``SECRETS_KEYRING`` → 503 with the reason. Nothing of a field's
value is logged or echoed.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiohttp import web

from bot.clock import Clock
from bot.desks.connect import (
    FORMS,
    BadInput,
    ConnectError,
    Connector,
    KeyRefused,
    NotConfigured,
    Unreachable,
)
from bot.keyring.desk_keys import NOT_CONFIGURED
from bot.services.access import Role
from bot.webapp.api import error, read_json
from bot.webapp.auth import InitDataError, WebAppUser, validate

log = logging.getLogger("bot.webapp")


class DeskDoor(Protocol):
    """The desk side the connect endpoints need (the composition root implements it with the
    desks' registry and the desk factory)."""

    async def desk_for(self, user_id: int) -> tuple[str, Role] | None:
        """The user's active desk and their role in it, or ``None`` when they have none."""
        ...

    async def keys_changed(self, desk_id: str, venue: str) -> None:
        """The desk's keys for ``venue`` were stored or wiped: rebuild what used them."""
        ...


_STATUS: dict[type[ConnectError], int] = {
    BadInput: 400,
    KeyRefused: 400,
    Unreachable: 502,
    NotConfigured: 503,
}


class ConnectApi:
    """The connect page and its three endpoints."""

    def __init__(
        self, token: str, clock: Clock, max_age: int, door: DeskDoor, connector: Connector
    ) -> None:
        self._token = token
        self.clock = clock
        self.max_age = max_age
        self.door = door
        self.connector = connector

    def add_routes(self, app: web.Application) -> None:
        """The endpoints (the server serves the page, ``GET /connect``, with its assets)."""
        r = app.router
        r.add_post("/api/connections", self.connections)
        r.add_post("/api/connect", self.connect)
        r.add_post("/api/disconnect", self.disconnect)

    async def _owner(self, request: web.Request, body: dict[str, Any]) -> str | web.Response:
        """The id of the desk the caller owns, or the error response (401, 403)."""
        init_data = body.get("initData")
        if not isinstance(init_data, str):
            scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
            init_data = rest.strip() if scheme.lower() == "tma" else ""
        try:
            user: WebAppUser = validate(init_data, self._token, self.clock, self.max_age)
        except InitDataError as exc:
            return error(401, f"Not signed by Telegram: {exc}. Open the form again from the chat.")
        found = await self.door.desk_for(user.id)
        if found is None:
            log.warning("connect refused user id=%s: no desk", user.id)
            return error(403, "You have no desk on this bot: start the bot in the chat first.")
        desk_id, role = found
        if role != "owner":
            return error(
                403, f"Only the desk's owner may connect or disconnect its keys; you are {role}."
            )
        return desk_id

    async def connections(self, request: web.Request) -> web.Response:
        """``{"configured", "venues": {venue: hint}, "forms": …}`` for the page to draw (503
        with the reason when keys cannot be stored here)."""
        desk_id = await self._owner(request, await read_json(request))
        if isinstance(desk_id, web.Response):
            return desk_id
        keys = self.connector.keys
        if not keys.configured:
            return error(503, NOT_CONFIGURED)
        return web.json_response(
            {
                "configured": True,
                "venues": await keys.venues(desk_id),
                "forms": {
                    venue: [{"name": f.name, "label": f.label} for f in fields]
                    for venue, fields in FORMS.items()
                },
            }
        )

    async def connect(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        desk_id = await self._owner(request, body)
        if isinstance(desk_id, web.Response):
            return desk_id
        venue, fields = str(body.get("venue", ""))[:32], body.get("fields")
        if not isinstance(fields, dict):
            return error(400, "Fill in the form's fields and tap Connect.")
        try:
            done = await self.connector.connect(desk_id, venue, fields)
        except ConnectError as exc:
            return error(_STATUS.get(type(exc), 400), exc.text)
        await self.door.keys_changed(desk_id, venue)
        return web.json_response({"connected": done.venue, "hint": done.hint})

    async def disconnect(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        desk_id = await self._owner(request, body)
        if isinstance(desk_id, web.Response):
            return desk_id
        venue = str(body.get("venue", ""))[:32]
        try:
            removed = await self.connector.disconnect(desk_id, venue)
        except ConnectError as exc:
            return error(_STATUS.get(type(exc), 400), exc.text)
        if removed:
            await self.door.keys_changed(desk_id, venue)
        return web.json_response({"disconnected": venue, "removed": removed})
