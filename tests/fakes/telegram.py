"""A test driver over the embedded Bot API (``bot/localchat``), for driving the bot in tests.

The server is the product's own :class:`~bot.localchat.server.LocalChatServer`, so the bot meets
Telegram's real shapes, errors and limits. The bot is pointed at it with
``TELEGRAM_API_URL=<url>/bot``. Tests act as users: :meth:`FakeTelegram.send` types a message
(commands get their ``bot_command`` entity), :meth:`FakeTelegram.tap` presses an inline button,
and the ``wait_*`` helpers read what the bot sent back. Every Bot API call is recorded in
:attr:`FakeTelegram.calls`; ``refuse_429`` answers that many ``send*``/``edit*`` calls with
``429`` and ``retry_after`` to exercise the rate limiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.localchat.messages import BotApiError, StoredMessage
from bot.localchat.server import BOT_ID, LocalChatServer
from bot.localchat.store import Event, Upload

__all__ = ["BOT_ID", "BOT_USERNAME", "Answer", "FakeTelegram", "Sent"]

BOT_USERNAME = "backpack_test_bot"


@dataclass
class Sent:
    """A message as the bot last left it (edits update it in place); ``text`` is the HTML sent."""

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
    """The driver. Use as ``async with FakeTelegram(token) as tg:``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.server = LocalChatServer(token, bot_username=BOT_USERNAME, max_poll_seconds=1.0)
        self.server.api.gate = self._gate
        self.messages: list[Sent] = []
        self.answers: list[Answer] = []
        self.refuse_429: int = 0
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._by_id: dict[int, Sent] = {}
        self._changed = asyncio.Event()
        self.server.store.subscribe(self._on_event)
        self.url = ""

    async def __aenter__(self) -> FakeTelegram:
        await self.server.start()
        self.url = self.server.url
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Bot API call the bot made but ``getUpdates``: ``(method, params)``, files as
        ``"<file>"``. Kept here, for the test's lifetime; the server itself keeps none."""
        return self._calls

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command menu last set with ``setMyCommands`` (default scope)."""
        return list(self.server.store.commands.get("default:", []))

    @commands.setter
    def commands(self, value: list[dict[str, Any]]) -> None:
        self.server.store.commands["default:"] = list(value)

    def _gate(self, method: str, params: dict[str, Any]) -> BotApiError | None:
        if method.lower() != "getupdates":
            self._calls.append(
                (method, {k: "<file>" if isinstance(v, Upload) else v for k, v in params.items()})
            )
        if self.refuse_429 > 0 and method.startswith(("send", "edit")):
            self.refuse_429 -= 1
            return BotApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        return None

    def _on_event(self, event: Event) -> None:
        m = event.message
        if m is not None and m.from_bot:
            if event.kind == "message":
                sent = Sent(m.chat_id, m.message_id, m.source, m.reply_markup, _is_photo(m))
                self._by_id[m.message_id] = sent
                self.messages.append(sent)
            elif event.kind == "edit" and m.message_id in self._by_id:
                sent = self._by_id[m.message_id]
                if m.source != sent.text:
                    sent.history.append(sent.text)
                sent.text, sent.reply_markup = m.source, m.reply_markup
                sent.edits += 1
            elif event.kind == "delete" and m.message_id in self._by_id:
                self.messages.remove(self._by_id.pop(m.message_id))
        elif event.kind == "answer":
            d = event.data
            self.answers.append(Answer(d["callback_query_id"], d["text"], d["show_alert"]))
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ acting as users

    async def send(self, user_id: int, text: str, chat_id: int | None = None) -> int:
        """A user types ``text`` (in their private chat unless ``chat_id`` names a group)."""
        return self.server.store.user_message(user_id, text, chat_id).message_id

    async def send_media(
        self, user_id: int, fields: dict[str, Any], chat_id: int | None = None
    ) -> int:
        """A user sends a sticker, photo, file, location … (``fields`` of a Bot API Message)."""
        return self.server.store.user_media(user_id, fields, chat_id)

    async def edit(self, user_id: int, message_id: int, text: str) -> None:
        """A user edits their earlier message ``message_id`` into ``text`` (edited_message)."""
        self.server.store.user_edit(user_id, message_id, text)

    async def tap(self, user_id: int, message: Sent, data: str) -> str:
        """A user presses the inline button carrying ``data`` under ``message``."""
        store = self.server.store
        return store.tap(user_id, message.chat_id, message.message_id, data, message.text)

    # ------------------------------------------------------------------ reading the bot

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every bot call); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - loop.time()
            if left <= 0:
                texts = [m.text[:120] for m in self.messages[-8:]]
                raise AssertionError(f"timed out; the last messages were {texts}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), left)
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


def _is_photo(m: StoredMessage) -> bool:
    return m.photo is not None
