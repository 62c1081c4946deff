"""Telegram's state for one bot: chats, messages, files, pending updates, ids, subscribers.

:class:`ChatState` holds it (in memory, written through to :mod:`bot.localchat.durable` when a
path is given); :class:`~bot.localchat.store.ChatStore` adds the users' actions and the Bot API
methods on top.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.localchat.durable import ChatLog
from bot.localchat.messages import StoredFile, StoredMessage, bad

#: The history kept (memory and disk); beyond it the oldest messages go, a tenth at a time.
KEEP_MESSAGES = 20_000


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str
    content_type: str


@dataclass(frozen=True)
class Event:
    """A change subscribers hear about.

    ``kind`` is ``message`` (new, from anyone), ``edit``, ``delete``, ``answer`` (a callback
    query answered: ``data`` has ``callback_query_id``, ``text``, ``show_alert``), ``commands``,
    ``action`` (``sendChatAction``) or ``call`` (any Bot API call finished; the driver waits on it).
    """

    kind: str
    message: StoredMessage | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    """A callback query waiting for its answer."""

    user_id: int
    answered: bool = False


class ChatState:
    """Telegram's state for one bot: in memory, and durable in ``path`` when one is given.

    With a ``path`` (:mod:`bot.localchat.durable`) the chats, messages, files, pending updates,
    commands menu and id counters are written through before a method answers and read back on
    start: a restart shows the same history and new ids continue above the old ones.
    """

    def __init__(
        self,
        bot_id: int,
        bot_name: str,
        bot_username: str,
        path: Path | None = None,
        keep_messages: int = KEEP_MESSAGES,
    ) -> None:
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.messages: dict[int, StoredMessage] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.user_names: dict[int, str] = {}
        self._groups: dict[int, dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        #: The last setWebhook (url, secret_token): recorded so a test can see what was registered.
        self.webhook: dict[str, Any] = {}
        self._queries: dict[str, Query] = {}
        # Update ids start at the clock in ms: a chat whose file was deleted never reuses an id
        # the bot's database has seen (it drops a repeated update_id as a redelivery).
        self._next = {"update": int(time.time() * 1000), "message": 1000, "query": 1, "file": 1}
        self._arrived = asyncio.Event()
        self._poller = 0
        self._subscribers: list[Callable[[Event], None]] = []
        self.closed = False
        self.keep_messages = keep_messages
        self._log = ChatLog(path)
        saved = self._log.load()
        self.messages, self.files = saved.messages, saved.files
        self._groups, self._updates = saved.groups, saved.updates
        self.commands = saved.commands
        for name, value in saved.counters.items():
            self._next[name] = max(self._next.get(name, 1), value)
        if self.messages:  # ids continue above every message kept, whatever the counter
            self._next["message"] = max(self._next["message"], max(self.messages) + 1)

    def _take(self, name: str) -> int:
        """The next id of kind ``name`` (message, update, query, file)."""
        value = self._next[name]
        self._next[name] = value + 1
        return value

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every :class:`Event`; returns the unsubscribe function."""
        self._subscribers.append(listener)
        return lambda: self._subscribers.remove(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._subscribers):
            listener(event)

    def close(self) -> None:
        """Release every long poll (the server is stopping) and close the file, if any."""
        self.closed = True
        self._wake()
        self._log.close()

    def _keep(self, message: StoredMessage, new: bool = False) -> None:
        """Record ``message`` (new or changed) in memory and on disk; cap the history."""
        self.messages[message.message_id] = message
        self._log.message(message, new=new)
        if new and len(self.messages) > self.keep_messages + self.keep_messages // 10:
            ids = sorted(self.messages)
            cut = ids[len(ids) - self.keep_messages]
            for old in ids[: len(ids) - self.keep_messages]:
                del self.messages[old]
            self._log.prune(cut)
            used = {f.file_id for m in self.messages.values() for f in (m.photo, m.document) if f}
            self.files = {k: f for k, f in self.files.items() if k in used}

    # ------------------------------------------------------------------ people and chats

    def user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": self.user_names.get(user_id, f"user{user_id}"),
        }

    def chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            cid = int(chat_id)
        except (TypeError, ValueError):
            raise bad("chat not found") from None
        if cid > 0:  # a user's private chat, as if they had pressed Start
            return {"id": cid, "first_name": self.user(cid)["first_name"], "type": "private"}
        if cid in self._groups:
            return self._groups[cid]
        raise bad("chat not found")

    def history(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.chat_id == chat_id]

    def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = self._take("update")
        self._updates.append(update)
        self._log.update(update)
        self._wake()

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()
