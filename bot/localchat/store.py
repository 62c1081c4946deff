"""Telegram's side of the conversation: chats, messages, the update queue, files, commands.

:class:`ChatStore` is what the embedded Bot API (``botapi.py``) and the chat page (``web.py``)
share. Bot API methods are its ``api_*`` coroutines, taking the request's parameters and returning
the ``result`` or raising :class:`~bot.localchat.messages.BotApiError`. Users act through
:meth:`ChatStore.user_message` and :meth:`ChatStore.tap`. Every change is announced to the
subscribers as an :class:`Event` (the page's WebSocket and the test driver listen).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from typing import Any

from bot.localchat.entities import detect
from bot.localchat.messages import (
    ANSWER_TEXT_LIMIT,
    CAPTION_LIMIT,
    DOCUMENT_BYTES_LIMIT,
    NOT_MODIFIED,
    TEXT_LIMIT,
    BotApiError,
    StoredFile,
    StoredMessage,
    bad,
    check_photo,
    formatted,
    image_size,
    keyboard,
    web_app_url,
)
from bot.localchat.state import ChatState, Event, Query, Upload

__all__ = ["ChatStore", "Event", "Upload"]

CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


class ChatStore(ChatState):
    """In-memory (or, with a ``path``, durable) Telegram for one bot: the users' side and the
    Bot API methods over :class:`~bot.localchat.state.ChatState`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``setChatMenuButton`` (by chat id; ``""`` is every chat's default). Not kept across
        #: a restart: the bot sets it again at each start.
        self.menu_buttons: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ users acting

    def user_message(self, user_id: int, text: str, chat_id: int | None = None) -> StoredMessage:
        """A user sends ``text``; commands get their ``bot_command`` entity, as Telegram does."""
        if chat_id is not None and chat_id != user_id and chat_id not in self._groups:
            self._groups[chat_id] = {"id": chat_id, "title": f"group {chat_id}", "type": "group"}
            self._log.group(self._groups[chat_id])
        chat = self.chat(chat_id if chat_id is not None else user_id)
        message = StoredMessage(
            message_id=self._take("message"),
            chat=chat,
            sender=self.user(user_id),
            date=int(time.time()),
            text=text,
            entities=detect(text, []),
            source=text,
        )
        self._keep(message, new=True)
        self.emit(Event("message", message))
        self._push({"message": message.wire()})
        return message

    def user_media(self, user_id: int, fields: dict[str, Any], chat_id: int | None = None) -> int:
        """A user sends something that is not text (``fields``: e.g. ``{"sticker": {...}}`` or
        ``{"photo": [...], "caption": "..."}`` as in a Bot API ``Message``); the update only."""
        chat = self.chat(chat_id if chat_id is not None else user_id)
        message_id = self._take("message")
        self._log.counter("message", message_id + 1)
        wire = {
            "message_id": message_id,
            "from": self.user(user_id),
            "chat": chat,
            "date": int(time.time()),
            **fields,
        }
        self._push({"message": wire})
        return message_id

    def user_edit(self, user_id: int, message_id: int, text: str) -> None:
        """A user edits their message ``message_id`` into ``text`` (an ``edited_message``)."""
        message = self.messages.get(message_id)
        if message is None or message.sender.get("id") != user_id:
            raise KeyError(f"user {user_id} has no message {message_id}")
        message.text = text
        message.source = text
        message.entities = detect(text, [])
        self._keep(message)
        wire = message.wire()
        wire["edit_date"] = int(time.time())
        self.emit(Event("edit", message))
        self._push({"edited_message": wire})

    def tap(self, user_id: int, chat_id: int, message_id: int, data: str, text: str = "") -> str:
        """A user presses the inline button carrying ``data``; returns the callback query id."""
        query_id = str(self._take("query"))
        self._queries[query_id] = Query(user_id)
        self._log.counter("query", int(query_id) + 1)
        message = self.messages.get(message_id)
        wire = (
            message.wire()
            if message is not None
            else {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self.chat(chat_id),
                "from": self.bot_user,
                "text": text,
            }
        )
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user(user_id),
                    "chat_instance": str(chat_id),
                    "data": data,
                    "message": wire,
                }
            }
        )
        return query_id

    # ------------------------------------------------------------------ updates

    async def api_getUpdates(self, p: dict[str, Any], max_wait: float = 50.0) -> Any:
        offset = _int(p, "offset", 0)
        limit = min(max(_int(p, "limit", 100), 1), 100)
        timeout = min(max(float(p.get("timeout") or 0), 0.0), max_wait)
        before = len(self._updates)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        if len(self._updates) != before:
            self._log.confirmed(u["update_id"] for u in self._updates)
        self._poller += 1
        me = self._poller
        self._wake()  # an older long poll is now terminated with 409, as on Telegram
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if me != self._poller:
                raise BotApiError(409, CONFLICT)
            if self._updates or self.closed:
                return self._updates[:limit]
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return []
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return []

    async def api_getMe(self, p: dict[str, Any]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        if p.get("drop_pending_updates") in (True, "true", "True", "1"):
            self._updates.clear()
            self._log.confirmed([])
        self.webhook = {}
        return True

    async def api_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def api_setWebhook(self, p: dict[str, Any]) -> Any:
        """Recorded (``webhook``), not used: the local chat delivers updates by getUpdates."""
        if not p.get("url"):
            raise bad("url is empty")
        token = p.get("secret_token")
        if token is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(token)):
            raise bad("secret token contains unallowed characters")
        self.webhook = {"url": str(p["url"]), "secret_token": token}
        return True

    async def api_logOut(self, p: dict[str, Any]) -> Any:
        return True

    async def api_close(self, p: dict[str, Any]) -> Any:
        return True

    # ------------------------------------------------------------------ sending

    def _bot_message(self, p: dict[str, Any], **fields: Any) -> StoredMessage:
        message = StoredMessage(
            message_id=self._take("message"),
            chat=self.chat(p.get("chat_id")),
            sender=self.bot_user,
            date=int(time.time()),
            **fields,
        )
        self._keep(message, new=True)
        self.emit(Event("message", message))
        return message

    async def api_sendMessage(self, p: dict[str, Any]) -> Any:
        self.chat(p.get("chat_id"))
        text, entities = formatted(p, "text", TEXT_LIMIT, empty_ok=False)
        markup = keyboard(p.get("reply_markup"))
        return self._bot_message(
            p, text=text, entities=entities, reply_markup=markup, source=str(p["text"])
        ).wire()

    async def api_sendPhoto(self, p: dict[str, Any]) -> Any:
        self.chat(p.get("chat_id"))
        caption, entities = formatted(p, "caption", CAPTION_LIMIT, empty_ok=True)
        markup = keyboard(p.get("reply_markup"))
        photo = self._file(p, "photo", "image/png", "photo.png", image=True)
        return self._bot_message(
            p,
            caption=caption,
            entities=entities,
            photo=photo,
            reply_markup=markup,
            source=str(p.get("caption") or ""),
        ).wire()

    async def api_sendDocument(self, p: dict[str, Any]) -> Any:
        self.chat(p.get("chat_id"))
        caption, entities = formatted(p, "caption", CAPTION_LIMIT, empty_ok=True)
        markup = keyboard(p.get("reply_markup"))
        document = self._file(p, "document", "application/octet-stream", "file", image=False)
        return self._bot_message(
            p,
            caption=caption,
            entities=entities,
            document=document,
            reply_markup=markup,
            source=str(p.get("caption") or ""),
        ).wire()

    def _file(
        self, p: dict[str, Any], key: str, mime: str, name: str, *, image: bool
    ) -> StoredFile:
        value = p.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value.removeprefix("attach://"))
        if isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            raise bad("wrong file identifier/HTTP URL specified")
        if not isinstance(value, Upload):
            raise bad(f"there is no {key} in the request")
        width = height = 0
        if image:
            width, height = image_size(value.data)
            check_photo(width, height, len(value.data))
        elif len(value.data) > DOCUMENT_BYTES_LIMIT:
            raise bad("file is too big")
        if not value.data:
            raise bad("file must be non-empty")
        n = self._take("file")
        self._log.counter("file", n + 1)
        digest = hashlib.sha256(value.data).hexdigest()[:16]
        stored = StoredFile(
            file_id=f"local-{n}-{digest}",
            file_unique_id=digest,
            data=value.data,
            mime_type=value.content_type or mime,
            file_name=value.filename or name,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    async def api_getFile(self, p: dict[str, Any]) -> Any:
        stored = self.files.get(str(p.get("file_id", "")))
        if stored is None:
            raise bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": f"files/{stored.file_id}",
        }

    async def api_sendChatAction(self, p: dict[str, Any]) -> Any:
        chat = self.chat(p.get("chat_id"))
        action = str(p.get("action", ""))
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        self.emit(Event("action", data={"chat_id": chat["id"], "action": action}))
        return True

    # ------------------------------------------------------------------ editing

    def _target(self, p: dict[str, Any], verb: str = "edit") -> StoredMessage:
        if p.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self.chat(p.get("chat_id"))
        message = self.messages.get(_int(p, "message_id", 0))
        if message is None or message.chat_id != chat["id"]:
            raise bad(f"message to {verb} not found")
        if verb == "edit" and not message.from_bot:
            raise bad("message can't be edited")
        return message

    def _apply(self, message: StoredMessage, **changes: Any) -> Any:
        before = message.content()
        old = {k: getattr(message, k) for k in changes}
        for key, value in changes.items():
            setattr(message, key, value)
        if message.content() == before:
            for key, value in old.items():
                setattr(message, key, value)
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.edit_date = int(time.time())
        self._keep(message)
        self.emit(Event("edit", message, {"previous_source": old.get("source")}))
        return message.wire()

    async def api_editMessageText(self, p: dict[str, Any]) -> Any:
        message = self._target(p)
        if message.text is None:
            raise bad("there is no text in the message to edit")
        text, entities = formatted(p, "text", TEXT_LIMIT, empty_ok=False)
        markup = keyboard(p.get("reply_markup"))
        return self._apply(
            message, text=text, entities=entities, reply_markup=markup, source=str(p["text"])
        )

    async def api_editMessageCaption(self, p: dict[str, Any]) -> Any:
        message = self._target(p)
        if message.photo is None and message.document is None:
            raise bad("there is no caption in the message to edit")
        caption, entities = formatted(p, "caption", CAPTION_LIMIT, empty_ok=True)
        markup = keyboard(p.get("reply_markup"))
        return self._apply(
            message,
            caption=caption,
            entities=entities,
            reply_markup=markup,
            source=str(p.get("caption") or ""),
        )

    async def api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        message = self._target(p)
        return self._apply(message, reply_markup=keyboard(p.get("reply_markup")))

    async def api_deleteMessage(self, p: dict[str, Any]) -> Any:
        message = self._target(p, "delete")
        del self.messages[message.message_id]
        self._log.deleted(message.message_id)
        self.emit(Event("delete", message))
        return True

    # ------------------------------------------------------------------ buttons and menu

    async def api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        query_id = str(p.get("callback_query_id", ""))
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = str(p.get("text") or "")
        if len(text) > ANSWER_TEXT_LIMIT:
            raise bad("MESSAGE_TOO_LONG")
        query.answered = True
        show = p.get("show_alert") in (True, "true", "True", "1")
        data = {"callback_query_id": query_id, "text": text, "show_alert": show}
        self.emit(Event("answer", data={**data, "user_id": query.user_id}))
        return True

    async def api_setMyCommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        clean: list[dict[str, str]] = []
        for c in commands:
            name = str(c.get("command", "")) if isinstance(c, dict) else ""
            description = str(c.get("description", "")) if isinstance(c, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise bad(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            clean.append({"command": name, "description": description})
        self.commands[_scope(p)] = clean
        self._log.commands(self.commands)
        self.emit(Event("commands", data={"scope": _scope(p), "commands": clean}))
        return True

    async def api_getMyCommands(self, p: dict[str, Any]) -> Any:
        return self.commands.get(_scope(p), [])

    async def api_deleteMyCommands(self, p: dict[str, Any]) -> Any:
        self.commands.pop(_scope(p), None)
        self._log.commands(self.commands)
        self.emit(Event("commands", data={"scope": _scope(p), "commands": []}))
        return True

    async def api_setChatMenuButton(self, p: dict[str, Any]) -> Any:
        """The chat's menu button (``chat_id`` omitted: every chat's default)."""
        raw = p.get("menu_button") or {"type": "default"}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise bad("can't parse menu button JSON object") from None
        if not isinstance(raw, dict) or raw.get("type") not in ("default", "commands", "web_app"):
            raise bad("can't parse menu button JSON object")
        if raw["type"] == "web_app":
            web_app_url(raw.get("web_app"))
        key = str(p.get("chat_id", ""))
        self.menu_buttons[key] = raw
        self.emit(Event("menu", data={"chat_id": key, "menu_button": raw}))
        return True

    async def api_getChatMenuButton(self, p: dict[str, Any]) -> Any:
        key = str(p.get("chat_id", ""))
        return self.menu_buttons.get(key) or self.menu_buttons.get("") or {"type": "commands"}


def _int(p: dict[str, Any], key: str, default: int) -> int:
    value = p.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"invalid {key} specified") from None


def _scope(p: dict[str, Any]) -> str:
    scope = p.get("scope")
    kind = scope.get("type", "default") if isinstance(scope, dict) else "default"
    return f"{kind}:{p.get('language_code') or ''}"
