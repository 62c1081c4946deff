"""What every handler shares: the services lookup, HTML replies, and friendly errors."""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackContext, ExtBot

from bot.container import HelpLine, Services
from bot.desks.factory import DeskFactory
from bot.desks.model import StartOutcome
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
from bot.render.common import esc, safe, split_message
from bot.services.access import Refusal, Refused
from bot.services.chat.commands import CommandLine, read_command
from bot.services.health import LogTail
from bot.services.orders.sender import key_refused
from bot.storage.desk_locks import DeskBusy
from bot.venues.port import VenueError
from bot.webapp.server import DashboardServer

log = logging.getLogger("bot.handlers")


class BotData:
    """Typed ``application.bot_data``: the desks, set in ``post_init``."""

    def __init__(self) -> None:
        #: The operator's desk (the account in the environment).
        self.services: Services | None = None
        #: Every desk's services, built on first use.
        self.factory: DeskFactory | None = None
        #: Strangers already told they are not on the list (once per run).
        self.refused: set[int] = set()
        self.help: list[HelpLine] = []
        #: The dashboard's server while it runs (``WEBAPP_URL`` set, or the local chat).
        self.dashboard: DashboardServer | None = None
        #: The newest log lines, for /logs (installed by the composition root).
        self.log_tail: LogTail | None = None


class DeskContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """An update's context, which also carries the desk the update gate resolved for it (the
    acting user's active desk); python-telegram-bot builds one per update for every group."""

    def __init__(
        self,
        application: Any,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.desk: Services | None = None
        #: Set when this very update made the user a member (``/start`` with an invite, or
        #: ``SIGNUP=open``): the welcome says so.
        self.joined: StartOutcome | None = None


Context = DeskContext
HandlerFn = Callable[[Update, Context], Awaitable[None]]
F = TypeVar("F", bound=HandlerFn)


def rt(context: Context) -> Services:
    """The services of the desk this update acts on (the user's active desk, resolved by the
    update gate before any handler runs)."""
    services = context.desk
    if services is None:
        raise RuntimeError("no desk was resolved for this update")
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


def friendly(exc: BaseException, what: str = "That", desk: str | None = None) -> str:
    """One clear sentence for the user; never a stack trace, never a secret.

    An exchange error says what the exchange said; anything else is a fault of the bot, and
    the sentence says so (``what`` failed, not the user's input) rather than "something went
    wrong". ``desk``: the desk the update acted on, so a refused key says who can fix it.
    """
    if isinstance(exc, DeskBusy):
        return f"⏳ {esc(exc.text)}"
    if isinstance(exc, InvalidSymbol):
        return f"❓ {safe(exc.message)}"
    if isinstance(exc, InvalidOrder):
        return f"⚠️ {safe(exc.message)}"
    if isinstance(exc, InsufficientFunds):
        return f"💸 not enough funds or margin: {safe(exc.message)}"
    if isinstance(exc, AuthError) and desk is not None:
        return "🔑 " + key_refused(desk, order=False)
    if isinstance(exc, AuthError):
        return (
            "🔑 the exchange refused the API key (revoked or expired?): the operator's desk "
            "uses BACKPACK_API_KEY / SECRET; any other desk's owner can /connect new keys"
        )
    if isinstance(exc, RateLimitError):
        return "⏳ the exchange is rate-limiting us; try again in a few seconds"
    if isinstance(exc, NotFound):
        return f"🔍 {safe(exc.message)}"
    if isinstance(exc, NetworkError | ExchangeUnavailable):
        return "📡 the exchange is not reachable right now; try again shortly"
    if isinstance(exc, BackpackError):
        return f"⚠️ {safe(exc.message)}"
    if isinstance(exc, VenueError):
        return f"⚠️ {esc(exc.venue)}: {safe(exc.message)}"
    return (
        f"⚠️ {what} failed because of a fault in the bot, not because of what you sent; "
        "it is in the bot's log. Try again in a moment."
    )


def fault_reference() -> str:
    """A short id that ties the message a user sees to its traceback in the log."""
    return secrets.token_hex(3)


def command_of(message: Message | None) -> CommandLine | None:
    """The command in ``message`` as ``CommandHandler`` reads it (``None``: not a command)."""
    if message is None or not message.text:
        return None
    entities = [(e.type, e.offset, e.length) for e in message.entities]
    try:
        username: str | None = message.get_bot().username
    except RuntimeError:  # a message not tied to a bot (built by hand): any @name counts
        username = None
    return read_command(message.text, entities, username)


def what_failed(update: object) -> str:
    """The user's own words for what failed: the command they typed, or the button."""
    if isinstance(update, Update):
        if update.callback_query is not None:
            return "That button"
        line = command_of(update.effective_message)
        if line is not None:
            return f"<code>{esc(line.shown[:32])}</code>"
    return "That"


def fault_text(what: str, ref: str) -> str:
    """The message for a fault of the bot: what failed, the log reference, what to do."""
    return (
        f"⚠️ {what} failed because of a fault in the bot, not because of what you sent "
        f"(reference <code>{ref}</code> in the bot's log). Try again in a moment; if it keeps "
        "failing, tell the bot's owner."
    )


async def report_fault(update: object, ref: str) -> None:
    """Tell the user a fault of the bot stopped their command or tap (log it first)."""
    if not isinstance(update, Update):
        return
    query = update.callback_query
    if query is not None:
        # A button's answer is plain text of at most 200 characters, and it stops the spinner.
        with contextlib.suppress(Exception):  # already answered: the chat message still goes
            await query.answer(f"⚠️ That button failed: a fault in the bot (ref {ref}).")
            return
    with contextlib.suppress(Exception):
        await reply(update, fault_text(what_failed(update), ref))


async def say_refusal(update: Update, refused: Refusal) -> None:
    """Say a refusal: a short answer to a tap, or a message in the chat."""
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(Exception):  # already answered: the chat message still goes
            await query.answer(refused.short, show_alert=True)
            return
    if update.effective_chat is not None:
        await update.effective_chat.send_message(refused.text, parse_mode=ParseMode.HTML)


def guarded(fn: F) -> F:
    """Turn any failure into a friendly reply; log what isn't the user's fault."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: Context) -> None:
        try:
            await fn(update, context)
        except Refused as exc:  # a service's own permission check: the second line
            log.warning("%s refused by the service: %s", fn.__name__, exc)
            await say_refusal(update, exc.refusal)
        except DeskBusy as exc:  # another order of the desk is on its way: not a fault
            log.info("%s: %s", fn.__name__, exc)
            await reply(update, friendly(exc))
        except BackpackError as exc:
            if isinstance(exc, NetworkError | ExchangeUnavailable | AuthError):
                log.warning("%s failed: %r", fn.__name__, exc)
            await reply(update, friendly(exc, desk=_desk_id(context)))
        except VenueError as exc:
            log.warning("%s failed: %s", fn.__name__, exc)
            await reply(update, friendly(exc))
        except Exception:
            ref = fault_reference()
            log.exception("%s crashed (ref %s)", fn.__name__, ref)
            await report_fault(update, ref)

    return wrapper  # type: ignore[return-value]


def _desk_id(context: Context) -> str | None:
    return context.desk.desk.id if context.desk is not None else None


def args_of(context: Context) -> list[str]:
    return list(context.args or [])
