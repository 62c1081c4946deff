"""The chat page: static files, its JSON API and the WebSocket that pushes every change.

The page is one user's private chat with the bot. It reads the history from ``GET /api/state``,
sends with ``POST /api/send`` and ``POST /api/tap``, and hears new messages, edits, deletions,
callback answers (toasts), chat actions and the command menu on ``/ws``.

Safety: a page on another site must not be able to trade through the user's browser, so writes
take JSON only (a cross-site form cannot send it without a CORS preflight we never grant), the
``Origin`` must be our own, and without a password only loopback/IP ``Host`` names are accepted
(DNS rebinding). With a password (``LOCAL_CHAT_PASSWORD``, or in live mode the key printed in
the page's URL) every API call needs the session cookie that ``POST /api/login`` or opening
``/?key=…`` sets; logins are counted (:mod:`bot.localchat.auth`) and sessions expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from bot.localchat.auth import SESSION_SECONDS, Attempts, Sessions, check_password
from bot.localchat.messages import TEXT_LIMIT, StoredMessage
from bot.localchat.store import ChatStore, Event

COOKIE = "localchat_session"
_STATIC = {
    "chat.js": "text/javascript",
    "chat.css": "text/css",
    "icon.svg": "image/svg+xml",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Banner:
    """What the page's banner says: the trading mode and where the market data comes from."""

    mode: str
    market: str
    detail: str = ""

    def wire(self) -> dict[str, str]:
        return {"mode": self.mode, "market": self.market, "detail": self.detail}


class ChatPage:
    """Serves the page for ``user_id``'s private chat with the bot in ``store``."""

    def __init__(
        self,
        store: ChatStore,
        user_id: int,
        banner: Banner,
        password: str | None = None,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.banner = banner
        if password is not None:
            check_password(password)
        self._password = password
        self.sessions = Sessions()
        self.attempts = Attempts()
        self._sockets: set[web.WebSocketResponse] = set()
        #: A ``web_app`` button's URL → the link the page opens (the server signs initData in).
        self.web_app_link: Callable[[str], str] = lambda url: url

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_post("/api/login", self.login)
        app.router.add_get("/api/state", self._guard(self.state))
        app.router.add_post("/api/send", self._guard(self.send))
        app.router.add_post("/api/tap", self._guard(self.tap))
        app.router.add_get("/api/files/{file_id}", self._guard(self.file))
        app.router.add_get("/ws", self._guard(self.websocket))

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # ------------------------------------------------------------------ safety

    def _host_ok(self, request: web.Request) -> bool:
        if self._password is not None:
            return True
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host == "localhost":
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or origin == f"{request.scheme}://{request.host}"

    def _signed_in(self, request: web.Request) -> bool:
        if self._password is None:
            return True
        return self.sessions.valid(request.cookies.get(COOKIE, ""))

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self._host_ok(request) or not self._origin_ok(request):
                return _error(403, "forbidden")
            if not self._signed_in(request):
                return _error(401, "password required")
            if request.method == "POST" and request.content_type != "application/json":
                return _error(415, "send JSON")
            return await handler(request)

        return guarded

    # ------------------------------------------------------------------ page

    async def index(self, request: web.Request) -> web.StreamResponse:
        if not self._host_ok(request):
            return _error(403, "forbidden")
        key = request.query.get("key")
        if key is not None and self._password is not None:
            # The printed URL carries the password: sign in, then drop it from the address bar.
            refused = self._try(request, key)
            if refused is not None:
                return refused
            redirect = web.HTTPSeeOther("/")
            self._start_session(redirect)
            raise redirect
        return _asset("index.html", "text/html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return _asset(name, _STATIC[name])

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request) or request.content_type != "application/json":
            return _error(403, "forbidden")
        if self._password is None:
            return web.json_response({"ok": True})
        body = await _json(request)
        refused = self._try(request, str(body.get("password", "")))
        if refused is not None:
            return refused
        response = web.json_response({"ok": True})
        self._start_session(response)
        return response

    def _try(self, request: web.Request, given: str) -> web.Response | None:
        """Count a login attempt and check ``given``: ``None`` when it is the password.

        Counted and compared with no ``await`` in between (see :mod:`bot.localchat.auth`)."""
        assert self._password is not None
        if not self.attempts.admit(request.remote or "?"):
            retry = str(self.attempts.retry_after())
            response = _error(429, f"too many attempts; try again in {retry} s")
            response.headers["Retry-After"] = retry
            return response
        if not hmac.compare_digest(given.encode(), self._password.encode()):
            return _error(401, "wrong password")
        return None

    def _start_session(self, response: web.StreamResponse) -> None:
        response.set_cookie(
            COOKIE,
            self.sessions.new(),
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=SESSION_SECONDS,
        )

    # ------------------------------------------------------------------ API

    async def state(self, request: web.Request) -> web.StreamResponse:
        store = self.store
        return web.json_response(
            {
                "bot": {
                    "name": store.bot_user["first_name"],
                    "username": store.bot_user["username"],
                },
                "user": store.user(self.user_id),
                "banner": self.banner.wire(),
                "commands": store.commands.get("default:", []),
                "messages": [self.page_message(m) for m in store.history(self.user_id)],
            }
        )

    async def send(self, request: web.Request) -> web.StreamResponse:
        text = str((await _json(request)).get("text", ""))
        if not text.strip():
            return _error(400, "empty message")
        if len(text) > TEXT_LIMIT:
            return _error(400, f"a message has at most {TEXT_LIMIT} characters")
        message = self.store.user_message(self.user_id, text)
        return web.json_response({"message": self.page_message(message)})

    async def tap(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        message = self.store.messages.get(_as_int(body.get("message_id")))
        data = str(body.get("data", ""))
        if message is None or message.chat_id != self.user_id:
            return _error(404, "that message is gone")
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            return _error(409, "that button is gone")
        query_id = self.store.tap(self.user_id, self.user_id, message.message_id, data)
        return web.json_response({"query_id": query_id})

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.store.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "private, max-age=86400"}
        return web.Response(body=stored.content(), content_type=stored.mime_type, headers=headers)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def listen(event: Event) -> None:
            frame = self.frame(event)
            if frame is not None:
                queue.put_nowait(frame)

        unsubscribe = self.store.subscribe(listen)
        self._sockets.add(ws)
        writer = asyncio.create_task(_pump(ws, queue))
        try:
            async for msg in ws:  # the page only listens; this loop notices it leaving
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            unsubscribe()
            self._sockets.discard(ws)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    # ------------------------------------------------------------------ wire for the page

    def page_message(self, m: StoredMessage) -> dict[str, Any]:
        out = m.wire()
        out["outgoing"] = not m.from_bot
        stored = m.photo or m.document
        if stored is not None:
            out["file_url"] = f"/api/files/{stored.file_id}"
        rows = (m.reply_markup or {}).get("inline_keyboard") or []
        if any("web_app" in b for row in rows for b in row):
            out["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {**b, "url": self.web_app_link(b["web_app"]["url"])}
                        if "web_app" in b
                        else b
                        for b in row
                    ]
                    for row in rows
                ]
            }
        return out

    def frame(self, event: Event) -> dict[str, Any] | None:
        """The WebSocket frame for ``event``, or ``None`` when it is not this user's business."""
        if event.message is not None:
            if event.message.chat_id != self.user_id or event.kind not in (
                "message",
                "edit",
                "delete",
            ):
                return None
            return {"type": event.kind, "message": self.page_message(event.message)}
        if event.kind == "answer" and event.data.get("user_id") == self.user_id:
            return {"type": "answer", **event.data}
        if event.kind == "commands" and event.data.get("scope") == "default:":
            return {"type": "commands", "commands": event.data["commands"]}
        if event.kind == "action" and event.data.get("chat_id") == self.user_id:
            return {"type": "action", "action": event.data["action"]}
        return None


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        frame = await queue.get()
        if ws.closed:
            return
        await ws.send_str(json.dumps(frame))


def _asset(name: str, content_type: str) -> web.Response:
    data = resources.files("bot.localchat").joinpath("static", name).read_bytes()
    headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"}
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return web.Response(body=data, headers={**headers, "Content-Type": content_type})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="send a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return body


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
