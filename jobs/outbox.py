"""The outbox's transport: python-telegram-bot's ``Bot`` sending and editing HTML messages.

Telegram's ``retry_after`` (python-telegram-bot's ``RetryAfter``, raised once its own
``AIORateLimiter`` has run out of retries) becomes :class:`Throttled`, which the outbox honours
for the whole chat's line. For the outbox as a table (several processes), keyboards are stored
as JSON: :class:`TelegramMarkupCodec`.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.services.notices.limits import Throttled
from bot.settings import Settings

log = logging.getLogger("jobs.outbox")


class TelegramTransport:
    """:class:`bot.services.notices.outbox.Transport` over the Bot API (rate-limited by PTB)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, markup: object | None) -> int:
        with _throttled():
            return await self._send(chat_id, text, markup)

    async def edit(self, chat_id: int, message_id: int, text: str, markup: object | None) -> None:
        with _throttled():
            await self._edit(chat_id, message_id, text, markup)

    async def edit_markup(self, chat_id: int, message_id: int, markup: object | None) -> None:
        with _throttled():
            await self._edit_markup(chat_id, message_id, markup)

    async def _send(self, chat_id: int, text: str, markup: object | None) -> int:
        msg = await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            disable_web_page_preview=True,
        )
        return int(msg.message_id)

    async def _edit(self, chat_id: int, message_id: int, text: str, markup: object | None) -> None:
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            )
        except BadRequest as exc:  # deleted message, unchanged text: nothing left to tidy
            # Recovery re-applies final texts: "not modified" is the usual answer, and "not
            # found" means the message is gone (deleted, or older than the chat's history).
            quiet = "not modified" in exc.message or "not found" in exc.message
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "could not edit message %s: %s",
                message_id,
                exc.message,
            )

    async def _edit_markup(self, chat_id: int, message_id: int, markup: object | None) -> None:
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            )
        except BadRequest as exc:  # deleted, or already without those buttons
            log.info("could not edit the buttons of %s: %s", message_id, exc.message)


@asynccontextmanager
async def bot_transport(settings: Settings) -> AsyncIterator[TelegramTransport]:
    """A transport of its own for a process without an ``Application`` (a worker of the set):
    the Bot API at ``TELEGRAM_API_URL`` with the bot's token, without python-telegram-bot's
    per-process rate limiter (the senders keep the bot-wide limits; a ``retry_after`` comes back
    as :class:`Throttled`)."""
    base = settings.telegram_api_url
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=base,
        base_file_url=base.removesuffix("/bot") + "/file/bot",
    )
    async with bot:
        yield TelegramTransport(bot)


class TelegramMarkupCodec:
    """:class:`bot.services.notices.table.MarkupCodec` for ``InlineKeyboardMarkup`` (the only
    keyboard the outbox sends); anything else is stored as no keyboard."""

    def encode(self, markup: object | None) -> str | None:
        if isinstance(markup, InlineKeyboardMarkup):
            return markup.to_json()
        if markup is not None:
            log.warning("a %s is not a keyboard the outbox keeps", type(markup).__name__)
        return None

    def decode(self, data: str | None) -> object | None:
        if data is None:
            return None
        # An empty keyboard (buttons taken away) is stored as "{}".
        return InlineKeyboardMarkup.de_json({"inline_keyboard": [], **json.loads(data)}, None)


@contextmanager
def _throttled() -> Iterator[None]:
    """Telegram's ``retry_after`` as :class:`Throttled` (seconds)."""
    try:
        yield
    except RetryAfter as exc:
        with warnings.catch_warnings():  # the int form is deprecated; both are read here
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            value = exc.retry_after
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
        raise Throttled(seconds) from None
