"""A small Bot API over HTTP for the outbox senders' tests: it records when each message reached
it (its own loop's clock), answers ``429`` with a ``retry_after`` when told, and can hold a
chat's next request unanswered (to kill a sender while its message is on its way).

Only what the senders call: ``getMe``, ``sendMessage``, ``editMessageText``,
``editMessageReplyMarkup``. The tests' subprocesses reach it over real HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.storage.conftest import _free_port


@dataclass
class Arrival:
    at: float
    method: str
    chat_id: int
    text: str
    message_id: int
    markup: dict[str, Any] | None


@dataclass
class BotApi:
    """``async with BotApi() as api:``; ``api.url`` is the ``base_url`` for PTB's ``Bot``."""

    arrivals: list[Arrival] = field(default_factory=list)
    refused: list[tuple[float, int]] = field(default_factory=list)
    #: chat → retry_after seconds for its next call(s), popped front first
    refuse: dict[int, list[float]] = field(default_factory=dict)
    #: chats whose next request is held until ``release``
    hold: set[int] = field(default_factory=set)
    held: list[int] = field(default_factory=list)
    url: str = ""
    _ids: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> BotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = _free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/bot"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def release(self) -> None:
        self._release.set()

    def times(self, chat: int | None = None) -> list[float]:
        return [
            a.at
            for a in self.arrivals
            if a.method == "sendMessage" and (chat is None or a.chat_id == chat)
        ]

    def texts(self, chat: int) -> list[str]:
        return [a.text for a in self.arrivals if a.method == "sendMessage" and a.chat_id == chat]

    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    async def _handle(self, request: web.Request) -> web.Response:
        at = asyncio.get_running_loop().time()
        method = request.match_info["method"]
        form = dict(await request.post())
        if method == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "Bot", "username": "test_bot"})
        chat = int(str(form["chat_id"]))
        if self.refuse.get(chat):
            seconds = self.refuse[chat].pop(0)
            self.refused.append((at, chat))
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {seconds:g}",
                "parameters": {"retry_after": seconds},
            }
            return web.json_response(body, status=429)
        if chat in self.hold:
            self.hold.discard(chat)
            self.held.append(chat)
            await self._release.wait()
            if request.transport is None or request.transport.is_closing():
                # Its sender died before this was handled: Telegram never sent it.
                return web.json_response({"ok": False, "error_code": 500}, status=500)
        markup = json.loads(str(form["reply_markup"])) if "reply_markup" in form else None
        if method == "sendMessage":
            self._ids += 1
            mid = self._ids
        else:
            mid = int(str(form["message_id"]))
        text = str(form.get("text", ""))
        self.arrivals.append(Arrival(at, method, chat, text, mid, markup))
        if method != "sendMessage":
            return _ok(True)
        kind = "group" if chat < 0 else "private"
        chat_obj = {"id": chat, "type": kind, **({"title": "g"} if chat < 0 else {})}
        return _ok({"message_id": mid, "date": int(time.time()), "chat": chat_obj, "text": text})


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def most_in_window(times: list[float], window: float, slack: float = 0.005) -> int:
    """The most arrivals within any ``window`` seconds (less ``slack``: millisecond rounding)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - (window - slack):
            j += 1
        best = max(best, i - j + 1)
    return best


def min_gap(times: list[float]) -> float:
    times = sorted(times)
    return min((b - a for a, b in itertools.pairwise(times)), default=float("inf"))
