"""The embedded Bot API over HTTP: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``.

python-telegram-bot reaches it through ``base_url`` exactly as it reaches api.telegram.org:
parameters arrive as a query string, a JSON body, a form or multipart (files); answers are
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …, "description": …}`` with the
same HTTP status. Method names are case-insensitive, as on Telegram.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot.localchat.messages import BotApiError
from bot.localchat.store import ChatStore, Event, Upload

#: Parameters sent JSON-encoded inside form fields.
JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "reply_parameters",
    "scope",
}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout"}

#: Called before each method runs; returning an error refuses the call (tests inject 429s).
Gate = Callable[[str, dict[str, Any]], BotApiError | None]
Method = Callable[[dict[str, Any]], Awaitable[Any]]


class BotApi:
    """Routes Bot API requests for one token to a :class:`ChatStore`."""

    def __init__(self, store: ChatStore, token: str, *, max_poll_seconds: float = 50.0) -> None:
        self.store = store
        self._token = token
        self.max_poll_seconds = max_poll_seconds
        #: Sees every call first (the test driver records calls and injects 429s through it);
        #: the server itself keeps no record of the calls it served.
        self.gate: Gate | None = None
        self._methods: dict[str, Method] = {
            name.removeprefix("api_").lower(): getattr(store, name)
            for name in dir(store)
            if name.startswith("api_")
        }
        self._methods["getupdates"] = self._get_updates

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        app.router.add_get("/file/bot{token}/files/{file_id}", self.file)

    def _authorised(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.match_info["token"].encode(), self._token.encode())

    async def _get_updates(self, p: dict[str, Any]) -> Any:
        return await self.store.api_getUpdates(p, self.max_poll_seconds)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _reply(BotApiError(401, "Unauthorized").body(), 401)
        name = request.match_info["method"]
        method = self._methods.get(name.lower())
        if method is None:
            return _reply(BotApiError(404, "Not Found").body(), 404)
        try:
            params = await read_params(request)
        except ValueError:
            return _reply(BotApiError(400, "Bad Request: can't parse JSON object").body(), 400)
        try:
            refusal = self.gate(name, params) if self.gate is not None else None
            if refusal is not None:
                raise refusal
            result = await method(params)
        except BotApiError as exc:
            return _reply(exc.body(), exc.code)
        except asyncio.CancelledError:
            raise
        finally:
            if name.lower() != "getupdates":
                self.store.emit(Event("call", data={"method": name}))
        return _reply({"ok": True, "result": result}, 200)

    async def file(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _reply(BotApiError(401, "Unauthorized").body(), 401)
        stored = self.store.files.get(request.match_info["file_id"])
        if stored is None:
            return _reply(BotApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.content(), content_type=stored.mime_type)


async def read_params(request: web.Request) -> dict[str, Any]:
    """Every parameter of a Bot API request, JSON fields decoded, files as :class:`Upload`."""
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if ctype == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, FileField):
                data = value.file.read()
                params[key] = Upload(data, value.filename or "", value.content_type or "")
            elif isinstance(value, bytes | bytearray):
                params[key] = Upload(bytes(value), "", "")
            else:
                params[key] = value
    for key in list(params):
        value = params[key]
        if key in JSON_FIELDS and isinstance(value, str):
            params[key] = json.loads(value) if value else None
        elif key in INT_FIELDS and isinstance(value, str) and value.lstrip("-").isdigit():
            params[key] = int(value)
    return params


def _reply(body: dict[str, Any], status: int) -> web.Response:
    return web.json_response(body, status=status)
