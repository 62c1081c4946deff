"""A small fake Telegram Bot API server over real HTTP (aiohttp), for driving the bot in tests.

The bot is pointed at it with ``TELEGRAM_API_URL=<url>/bot``. Tests act as users:
:meth:`FakeTelegram.send` types a message (commands get their ``bot_command`` entity),
:meth:`FakeTelegram.tap` presses an inline button, and the ``wait_*`` helpers read what the bot
sent back. Every Bot API call is recorded in :attr:`FakeTelegram.calls`.

It answers like the real server where the bot can tell the difference: ``{"ok": true,
"result": …}`` envelopes, long polling on ``getUpdates`` with ``offset``, ``400`` for editing a
message that does not exist or with unchanged text, and an optional ``429`` with
``retry_after`` to exercise the rate limiter.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000001
BOT_USERNAME = "backpack_test_bot"
#: Parameters python-telegram-bot sends JSON-encoded inside form fields.
_JSON_FIELDS = {"reply_markup", "entities", "commands", "allowed_updates", "link_preview_options"}
_INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout"}


@dataclass
class Sent:
    """A message as the bot last left it (edits update it in place)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    photo: bool = False
    edits: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """``(label, callback_data)`` of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def button(self, label_part: str) -> str:
        for label, data in self.buttons:
            if label_part in label:
                return data
        raise AssertionError(f"no button with {label_part!r} in {self.buttons} on {self.text!r}")


@dataclass
class Answer:
    callback_query_id: str
    text: str
    show_alert: bool


class FakeTelegram:
    """The fake server. Use as ``async with FakeTelegram() as tg:``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: list[Sent] = []
        self.answers: list[Answer] = []
        self.commands: list[dict[str, Any]] = []
        self.refuse_429: int = 0
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._query_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.app = web.Application(client_max_size=20 * 1024 * 1024)
        self.app.router.add_post("/bot{token}/{method}", self._handle)
        self.app.router.add_get("/bot{token}/{method}", self._handle)

    async def __aenter__(self) -> FakeTelegram:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ acting as users

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}

    async def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = next(self._update_ids)
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()

    async def send(self, user_id: int, text: str, chat_id: int | None = None) -> int:
        """A user types ``text`` (in their private chat unless ``chat_id`` names a group)."""
        chat = chat_id if chat_id is not None else user_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat == user_id else "group"},
            "from": self._user(user_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self._push({"message": message})
        return int(message["message_id"])

    async def edit(self, user_id: int, message_id: int, text: str) -> None:
        """A user edits their earlier message ``message_id`` into ``text`` (edited_message)."""
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()) - 5,
            "edit_date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._user(user_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self._push({"edited_message": message})

    async def tap(self, user_id: int, message: Sent, data: str) -> str:
        """A user presses the inline button carrying ``data`` under ``message``."""
        query_id = str(next(self._query_ids))
        await self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id),
                    "chat_instance": str(message.chat_id),
                    "data": data,
                    "message": {
                        "message_id": message.message_id,
                        "date": int(time.time()),
                        "chat": {"id": message.chat_id, "type": "private"},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "bot"},
                        "text": message.text,
                    },
                }
            }
        )
        return query_id

    # ------------------------------------------------------------------ reading the bot

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every bot call); return it."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    texts = [m.text[:120] for m in self.messages[-8:]]
                    raise AssertionError(f"timed out; the last messages were {texts}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    continue

    async def next_message(
        self, chat_id: int, contains: str = "", after: int = 0, timeout: float = 5.0
    ) -> Sent:
        """The first message to ``chat_id`` (index ≥ ``after``) whose text contains ``contains``."""

        def find() -> Sent | None:
            for m in self.messages[after:]:
                if m.chat_id == chat_id and contains in m.text:
                    return m
            return None

        found: Sent = await self.wait_for(find, timeout)
        return found

    async def ask(self, user_id: int, text: str, contains: str = "", timeout: float = 5.0) -> Sent:
        """Send ``text`` and return the bot's first reply to it (containing ``contains``)."""
        mark = len(self.messages)
        await self.send(user_id, text)
        return await self.next_message(user_id, contains, after=mark, timeout=timeout)

    async def answer_to(self, query_id: str, timeout: float = 5.0) -> Answer:
        def find() -> Answer | None:
            return next((a for a in self.answers if a.callback_query_id == query_id), None)

        found: Answer = await self.wait_for(find, timeout)
        return found

    def to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.messages if m.chat_id == chat_id]

    def find(self, message_id: int) -> Sent:
        return next(m for m in self.messages if m.message_id == message_id)

    # ------------------------------------------------------------------ the server

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else "<file>"
        for key in list(params):
            value = params[key]
            if key in _JSON_FIELDS and isinstance(value, str):
                params[key] = json.loads(value)
            elif key in _INT_FIELDS and isinstance(value, str) and value.lstrip("-").isdigit():
                params[key] = int(value)
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _fail(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates":
            self.calls.append((method, params))
        if self.refuse_429 > 0 and method.startswith(("send", "edit")):
            self.refuse_429 -= 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _ok(True)
        response: web.Response = await handler(params)
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _m_getMe(self, p: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Backpack test bot",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _m_getUpdates(self, p: dict[str, Any]) -> web.Response:
        offset = int(p.get("offset", 0) or 0)
        timeout = min(float(p.get("timeout", 0) or 0), 1.0)
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._changed:
            while True:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates:
                    return _ok(list(self._updates))
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return _ok([])
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    return _ok([])

    def _message(self, chat_id: int, text: str, markup: Any, photo: bool = False) -> Sent:
        sent = Sent(
            chat_id=int(chat_id),
            message_id=next(self._message_ids),
            text=text,
            reply_markup=markup or None,
            photo=photo,
        )
        self.messages.append(sent)
        return sent

    def _wire(self, m: Sent) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(time.time()),
            "chat": {"id": m.chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "bot"},
        }
        if m.photo:
            out["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}]
            out["caption"] = m.text
        else:
            out["text"] = m.text
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    async def _m_sendMessage(self, p: dict[str, Any]) -> web.Response:
        text = str(p.get("text", ""))
        if not text.strip():
            return _fail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _fail(400, "Bad Request: message is too long")
        return _ok(self._wire(self._message(p["chat_id"], text, p.get("reply_markup"))))

    async def _m_sendPhoto(self, p: dict[str, Any]) -> web.Response:
        sent = self._message(p["chat_id"], str(p.get("caption", "")), p.get("reply_markup"), True)
        return _ok(self._wire(sent))

    async def _m_editMessageText(self, p: dict[str, Any]) -> web.Response:
        m = self._lookup(p)
        if m is None:
            return _fail(400, "Bad Request: message to edit not found")
        text = str(p.get("text", ""))
        markup = p.get("reply_markup") or None
        if text == m.text and markup == m.reply_markup:
            return _fail(400, "Bad Request: message is not modified")
        m.history.append(m.text)
        m.text, m.reply_markup, m.edits = text, markup, m.edits + 1
        return _ok(self._wire(m))

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> web.Response:
        m = self._lookup(p)
        if m is None:
            return _fail(400, "Bad Request: message to edit not found")
        markup = p.get("reply_markup") or None
        if markup == m.reply_markup:
            return _fail(400, "Bad Request: message is not modified")
        m.reply_markup, m.edits = markup, m.edits + 1
        return _ok(self._wire(m))

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> web.Response:
        show = p.get("show_alert") in (True, "true", "True", "1")
        self.answers.append(Answer(str(p["callback_query_id"]), str(p.get("text", "")), show))
        return _ok(True)

    async def _m_setMyCommands(self, p: dict[str, Any]) -> web.Response:
        self.commands = list(p.get("commands", []))
        return _ok(True)

    async def _m_deleteMessage(self, p: dict[str, Any]) -> web.Response:
        m = self._lookup(p)
        if m is not None:
            self.messages.remove(m)
        return _ok(True)

    def _lookup(self, p: dict[str, Any]) -> Sent | None:
        chat, mid = p.get("chat_id"), p.get("message_id")
        return next(
            (m for m in self.messages if m.message_id == mid and m.chat_id == chat),
            None,
        )


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _fail(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )
