"""What every handler shares: the services lookup, HTML replies, and friendly errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackContext, ExtBot

from bot.container import HelpLine, Services
from bot.exchange.errors import (
    AuthError,
    BackpackError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    InvalidSymbol,
    NetworkError,
    NotFound,
    RateLimitError,
)
from bot.render.common import esc, split_message
from bot.venues.port import VenueError

log = logging.getLogger("bot.handlers")


class BotData:
    """Typed ``application.bot_data``: the services, set in ``post_init``."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.help: list[HelpLine] = []


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
HandlerFn = Callable[[Update, Context], Awaitable[None]]
F = TypeVar("F", bound=HandlerFn)


def rt(context: Context) -> Services:
    """The bot's services (typed); only ``None`` before start-up finished."""
    services = context.bot_data.services
    if services is None:
        raise RuntimeError("the bot is still starting")
    return services


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the same chat, HTML-formatted, split below Telegram's length limit."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_message(text)
    sent: Message | None = None
    for i, part in enumerate(parts):
        sent = await chat.send_message(
            part,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if i == len(parts) - 1 else None,
            disable_web_page_preview=True,
        )
    return sent


def friendly(exc: BaseException) -> str:
    """One clear sentence for the user; never a stack trace, never a secret."""
    if isinstance(exc, InvalidSymbol):
        return f"❓ {esc(exc.message)}"
    if isinstance(exc, InvalidOrder):
        return f"⚠️ {esc(exc.message)}"
    if isinstance(exc, InsufficientFunds):
        return f"💸 not enough funds or margin: {esc(exc.message)}"
    if isinstance(exc, AuthError):
        return "🔑 the exchange refused the API key — check BACKPACK_API_KEY / SECRET"
    if isinstance(exc, RateLimitError):
        return "⏳ the exchange is rate-limiting us; try again in a few seconds"
    if isinstance(exc, NotFound):
        return f"🔍 {esc(exc.message)}"
    if isinstance(exc, NetworkError | ExchangeUnavailable):
        return "📡 the exchange is not reachable right now; try again shortly"
    if isinstance(exc, BackpackError):
        return f"⚠️ {esc(exc.message)}"
    if isinstance(exc, VenueError):
        return f"⚠️ {esc(exc.venue)}: {esc(exc.message)}"
    return "⚠️ something went wrong on our side; it has been logged"


def guarded(fn: F) -> F:
    """Turn any failure into a friendly reply; log what isn't the user's fault."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: Context) -> None:
        try:
            await fn(update, context)
        except BackpackError as exc:
            if isinstance(exc, NetworkError | ExchangeUnavailable | AuthError):
                log.warning("%s failed: %r", fn.__name__, exc)
            await reply(update, friendly(exc))
        except VenueError as exc:
            log.warning("%s failed: %s", fn.__name__, exc)
            await reply(update, friendly(exc))
        except Exception as exc:
            log.exception("%s crashed", fn.__name__)
            await reply(update, friendly(exc))

    return wrapper  # type: ignore[return-value]


def args_of(context: Context) -> list[str]:
    return list(context.args or [])
