"""Messages as the Bot API stores and returns them, and the limits Telegram enforces.

Pure: building a message's text from ``text``/``parse_mode``, checking inline keyboards and
uploaded images, and the wire shape of a message. :class:`BotApiError` carries Telegram's
``error_code`` and ``description`` verbatim.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.localchat.entities import EntityParseError, detect, parse_html

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ANSWER_TEXT_LIMIT = 200
PHOTO_BYTES_LIMIT = 10 * 1024 * 1024
DOCUMENT_BYTES_LIMIT = 50 * 1024 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class BotApiError(Exception):
    """A Bot API refusal: ``{"ok": false, "error_code": code, "description": description}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass
class StoredFile:
    """An uploaded photo or document, served back by ``file_id``.

    ``data`` holds the bytes, or is empty when ``reader`` reads them from the chat's file on
    demand (a durable chat keeps no old chart in memory); :meth:`content` gives them either way.
    """

    file_id: str
    file_unique_id: str
    data: bytes
    mime_type: str
    file_name: str
    width: int = 0
    height: int = 0
    size: int = -1  # the byte count when ``data`` is not held
    reader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def file_size(self) -> int:
        return self.size if self.reader is not None else len(self.data)

    def content(self) -> bytes:
        return self.reader() if self.reader is not None else self.data

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.file_size,
                "width": self.width,
                "height": self.height,
            }
        ]

    def document(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": self.file_size,
        }


@dataclass
class StoredMessage:
    """One message in a chat, from a user or the bot; edits change it in place.

    ``source`` is the text or caption exactly as the bot sent it (HTML before parsing).
    """

    message_id: int
    chat: dict[str, Any]
    sender: dict[str, Any]
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    reply_markup: dict[str, Any] | None = None
    edit_date: int | None = None
    source: str = ""

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    def content(self) -> tuple[Any, ...]:
        """What "message is not modified" compares."""
        return (self.text, self.caption, self.entities, self.reply_markup)

    def wire(self) -> dict[str, Any]:
        """The ``Message`` object as the Bot API returns it."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            out["edit_date"] = self.edit_date
        media = self.photo is not None or self.document is not None
        if self.photo is not None:
            out["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            out["document"] = self.document.document()
        if media:
            if self.caption:
                out["caption"] = self.caption
                if self.entities:
                    out["caption_entities"] = self.entities
        elif self.text is not None:
            out["text"] = self.text
            if self.entities:
                out["entities"] = self.entities
        if self.reply_markup:
            out["reply_markup"] = self.reply_markup
        return out


def formatted(
    params: dict[str, Any], key: str, limit: int, empty_ok: bool
) -> tuple[str, list[dict[str, Any]]]:
    """``params[key]`` parsed per ``parse_mode`` (or given ``entities``), checked for length."""
    raw = params.get(key)
    source = "" if raw is None else str(raw)
    mode = str(params.get("parse_mode") or "").lower()
    what = "message text" if key == "text" else "message caption"
    if mode == "html":
        try:
            text, entities = parse_html(source)
        except EntityParseError as exc:
            raise bad(f"can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown is not parsed here (the bot sends HTML); it is shown as plain text.
        text = source
        given = params.get(f"{'' if key == 'text' else 'caption_'}entities")
        entities = list(given) if isinstance(given, list) else []
        entities.extend(detect(text, entities))
    else:
        raise bad(f"unsupported parse_mode {params.get('parse_mode')!s}")
    if not text.strip():
        if empty_ok:
            return "", []
        raise bad(f"{what} is empty")
    if len(text) > limit:
        raise bad("message is too long" if key == "text" else "message caption is too long")
    return text, entities


def keyboard(raw: Any) -> dict[str, Any] | None:
    """Check ``reply_markup`` the way Telegram does; only inline keyboards are shown."""
    if raw in (None, "", {}):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad("can't parse reply keyboard markup JSON object") from None
    if not isinstance(raw, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in raw:
        return raw  # reply keyboards / force_reply are accepted and not drawn
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise bad("can't parse inline keyboard button: Text must be non-empty")
            if "callback_data" in button:
                data = str(button["callback_data"]).encode()
                if not 1 <= len(data) <= CALLBACK_DATA_LIMIT:
                    raise bad("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not str(button["url"]).startswith(("http://", "https://", "tg://")):
                    raise bad("BUTTON_URL_INVALID")
            elif "web_app" in button:
                web_app_url(button["web_app"])
            elif not any(k in button for k in ("switch_inline_query", "copy_text", "pay")):
                raise bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
    return raw if any(rows) else None


def web_app_url(raw: Any) -> str:
    """A ``web_app`` button's (or menu button's) URL, checked. Telegram wants HTTPS; the
    embedded Bot API also takes ``http://`` so the local chat can open the local dashboard."""
    url = raw.get("url") if isinstance(raw, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise bad("BUTTON_URL_INVALID")
    return url


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, JPEG, GIF or WebP; Telegram refuses anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 0, 0
    raise bad("IMAGE_PROCESS_FAILED")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    raise bad("IMAGE_PROCESS_FAILED")


def check_photo(width: int, height: int, size: int) -> None:
    if size > PHOTO_BYTES_LIMIT:
        raise bad("file is too big")
    if (
        width
        and height
        and (width + height > 10000 or max(width, height) > 20 * min(width, height))
    ):
        raise bad("PHOTO_INVALID_DIMENSIONS")
