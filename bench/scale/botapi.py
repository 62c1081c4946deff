"""A recording Bot API server for the scale bench: every method call, with its time and chat.

The bot's processes reach it through ``TELEGRAM_API_URL`` as they reach api.telegram.org
(parameters parsed by the embedded Bot API's own :func:`bot.localchat.botapi.read_params`). It
keeps no chat history beyond the record: each call answers at once with the shape
python-telegram-bot parses (a ``Message`` for the send/edit methods, ``True`` for the rest), so
the bench measures the bot, not this server. Telegram's limits are measured, not enforced:
:meth:`BotApiRecorder.limits` reports the busiest 1-s window, the shortest gap between two
messages to one private chat and the most messages to one group in a minute.
"""

from __future__ import annotations

import asyncio
import bisect
import hmac
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.httpserve import start_site
from bot.localchat.botapi import read_params

BOT_ID = 7000002
#: Methods that put a message in a chat (counted against Telegram's limits).
SENDS = frozenset({"sendmessage", "sendphoto", "senddocument"})
EDITS = frozenset({"editmessagetext", "editmessagecaption", "editmessagereplymarkup"})


@dataclass(frozen=True)
class Call:
    """One Bot API request: ``at`` is ``time.monotonic()`` when it arrived."""

    at: float
    method: str  # lower-case
    chat_id: int | None
    text: str
    callback_query_id: str | None
    params: dict[str, Any]
    message_id: int | None = None  # the id this server gave a sent message, or the edited one


@dataclass
class Limits:
    max_per_second: int
    min_private_gap: float | None  # seconds; None: no chat got two messages
    max_group_per_minute: int
    closest: tuple[Call, Call] | None = None  # the two messages that were closest


@dataclass
class _Waiter:
    chat_id: int
    match: Callable[[Call], bool]
    future: asyncio.Future[Call]


@dataclass
class BotApiRecorder:
    """``async with BotApiRecorder(token) as api:`` → ``api.base_url`` (``…/bot``)."""

    token: str
    host: str = "127.0.0.1"
    calls: list[Call] = field(default_factory=list)
    by_chat: dict[int, list[Call]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, list[Call]] = field(default_factory=lambda: defaultdict(list))
    _waiters: dict[int, list[_Waiter]] = field(default_factory=lambda: defaultdict(list))
    _answer_waiters: dict[str, asyncio.Future[Call]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def __aenter__(self) -> BotApiRecorder:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner, self.url = await start_site(app, self.host, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        method = request.match_info["method"].lower()
        params = await read_params(request)
        chat = params.get("chat_id")
        chat_id = (
            int(chat) if isinstance(chat, int | str) and str(chat).lstrip("-").isdigit() else None
        )
        query = params.get("callback_query_id")
        mid = params.get("message_id")
        if method in SENDS:
            mid = next(self._ids)
        call = Call(
            time.monotonic(),
            method,
            chat_id,
            str(params.get("text") or params.get("caption") or ""),
            str(query) if query is not None else None,
            params,
            int(mid) if isinstance(mid, int | str) and str(mid).isdigit() else None,
        )
        self.calls.append(call)
        if chat_id is not None:
            self.by_chat[chat_id].append(call)
            for w in list(self._waiters.get(chat_id, ())):
                if not w.future.done() and w.match(call):
                    w.future.set_result(call)
                    self._waiters[chat_id].remove(w)
                    break
        if call.callback_query_id is not None:
            self.answers[call.callback_query_id].append(call)
            waiting = self._answer_waiters.pop(call.callback_query_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(call)
        return web.json_response({"ok": True, "result": self._result(call)})

    def _result(self, call: Call) -> Any:
        if call.method == "getme":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Scale bot",
                "username": "scale_bench_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if call.method == "getwebhookinfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if call.method in ("getmycommands", "getupdates"):
            return []
        if call.method in SENDS or call.method in EDITS:
            return {
                "message_id": call.message_id or 0,
                "date": int(time.time()),
                "chat": {"id": call.chat_id or 0, "type": _chat_type(call.chat_id)},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Scale bot"},
                "text": call.text,
            }
        return True

    def wait(self, chat_id: int, match: Callable[[Call], bool]) -> asyncio.Future[Call]:
        """A future for the next call to ``chat_id`` that ``match`` accepts (register it before
        sending the update it answers)."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._waiters[chat_id].append(_Waiter(chat_id, match, future))
        return future

    def wait_answer(self, query_id: str) -> asyncio.Future[Call]:
        """A future for the ``answerCallbackQuery`` of ``query_id``."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._answer_waiters[query_id] = future
        return future

    def forget(self, chat_id: int, future: asyncio.Future[Call]) -> None:
        self._waiters[chat_id] = [w for w in self._waiters[chat_id] if w.future is not future]

    def messages(self) -> list[Call]:
        """Every message put in a chat (sends, not edits or answers)."""
        return [c for c in self.calls if c.method in SENDS]

    def limits(
        self, since: float = 0.0, unsolicited: Callable[[Call], bool] | None = None
    ) -> Limits:
        """Telegram's limits as the bot met them: messages in the busiest 1-s window (all
        chats), the shortest gap before an ``unsolicited`` message (one the user did not just
        ask for; default: any) to a private chat, the most messages to one group within 60 s."""
        sent = [c for c in self.messages() if c.at >= since]
        times = [c.at for c in sent]
        busiest = max(
            (bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0
        )
        gap: float | None = None
        closest: tuple[Call, Call] | None = None
        group_max = 0
        chats: dict[int, list[Call]] = defaultdict(list)
        for c in sent:
            if c.chat_id is not None:
                chats[c.chat_id].append(c)
        for chat_id, calls in chats.items():
            if chat_id > 0:
                for a, b in itertools.pairwise(calls):
                    if unsolicited is not None and not unsolicited(b):
                        continue
                    if gap is None or b.at - a.at < gap:
                        gap, closest = b.at - a.at, (a, b)
            else:
                ts = [c.at for c in calls]
                busiest_minute = max(bisect.bisect_left(ts, t + 60.0) - i for i, t in enumerate(ts))
                group_max = max(group_max, busiest_minute)
        return Limits(busiest, gap, group_max, closest)


def _chat_type(chat_id: int | None) -> str:
    return "private" if chat_id is None or chat_id > 0 else "group"
