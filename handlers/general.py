"""/start, /help, /mode, /whoami — and the fallbacks for what no other handler understood.

:func:`handlers` goes first like every module's; :func:`fallback_handlers` must be registered
LAST (after every other module's handlers), because its callback handler answers any button.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from telegram import BotCommand, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.desks.model import OPERATOR
from bot.render import account as render_account
from bot.render import desks as render_desks
from bot.render import market as render_market
from bot.render.common import esc, mode_badge
from bot.services import access
from bot.services.access import Action
from bot.services.chat.commands import CommandLine
from bot.services.chat.suggest import suggest
from handlers import account as account_handlers
from handlers.common import Context, args_of, command_of, guarded, reply, rt
from handlers.guard import actor, permitted, refusal

log = logging.getLogger("bot.handlers.general")
#: What the 💲 Prices button under /start shows.
START_MARKETS = ("BTC", "ETH", "SOL")

COMMANDS: list[tuple[str, str, str]] = [
    ("price", "prices: last, mark, 24h change, bid/ask", "/price BTC ETH sol_usdc"),
    ("funding", "funding rate, APR, next payment", "/funding BTC  ·  /funding"),
    ("book", "order book: levels, spread, depth", "/book ETH"),
    (
        "buy",
        "buy (market, $ notional, or limit)",
        "/buy BTC 0.01  ·  /buy SOL $200  ·  /buy BTC 0.01 @ 60000 post  ·  "
        "/buy BTC 0.01 sl 60000 tp 70000",
    ),
    ("sell", "sell / short", "/sell ETH 0.5  ·  /sell BTC 0.01 @ 70000 reduce"),
    ("close", "close a position (all or part)", "/close BTC  ·  /close BTC 50%"),
    (
        "sl",
        "stop-loss on a whole position (held by the exchange)",
        "/sl BTC 60000  ·  /sl BTC 5%  ·  /sl BTC off",
    ),
    ("tp", "take-profit on a whole position", "/tp BTC 70000  ·  /tp BTC 5%  ·  /tp BTC off"),
    ("positions", "open positions with Close buttons and their SL/TP (🗑 removes)", "/positions"),
    ("orders", "open orders with Cancel buttons", "/orders"),
    ("cancel", "cancel an order or all", "/cancel 8284661092  ·  /cancel all"),
    ("balance", "balances", "/balance"),
    ("account", "fees, leverage, margin", "/account"),
    ("mode", "paper or live, and how to go live", "/mode  ·  /mode live"),
    ("whoami", "your user id and role", "/whoami"),
    ("start", "a short welcome: mode, market data, the account", "/start"),
    ("help", "this manual", "/help"),
]
#: What a tap on a button nobody recognises gets (tampered data, or a button from an old version).
STALE_BUTTON = "This button is no longer valid"


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, desc[:256]) for name, desc, _ in COMMANDS]


def help_text(mode: str, extra: list[tuple[str, str, str]]) -> str:
    lines = [
        "<b>Backpack trading bot</b>",
        f"Mode: {mode_badge(mode)}. Every order shows a preview and waits for your ✅.",
        "",
    ]
    for name, desc, example in [*COMMANDS, *extra]:
        lines.append(f"/{name} — {desc}\n   <i>{example}</i>")
    return "\n".join(lines)


@guarded
async def start(update: Update, context: Context) -> None:
    """A short welcome: mode, market source, the account, and three buttons."""
    r = rt(context)
    usdc: Decimal | None = None
    held: int | None = None
    who = actor(update, context)
    shown = who is not None and refusal(update, context, Action.ACCOUNT) is None
    if who is not None and shown:  # not in a group, not to a stranger
        try:
            balances = await r.account.balances(who)
            usdc = next((b.available for b in balances if b.asset == "USDC"), Decimal(0))
            held = len(await r.account.positions(who))
        except Exception as exc:  # the welcome still comes; the account line says unreachable
            log.warning("/start could not read the account: %r", exc)
    text, markup = render_account.welcome(
        r.mode, r.settings.exchange, usdc, held, account_shown=shown
    )
    if context.joined is not None:  # this /start just made them a member
        joined = context.joined
        text = render_desks.joined(joined.membership, joined.kind) + "\n\n" + text
    await reply(update, text, markup)


@guarded
async def help_(update: Update, context: Context) -> None:
    """The manual: every command with an example."""
    await reply(update, help_text(rt(context).mode, context.bot_data.help))


@guarded
async def mode(update: Update, context: Context) -> None:
    r = rt(context)
    args = [a.lower() for a in args_of(context)]
    if not args:
        await reply(update, render_account.mode(r.mode, r.settings.exchange))
    elif len(args) == 1 and args[0] in ("paper", "live"):
        operator = r.desk.id == OPERATOR
        await reply(update, render_account.mode_change(r.mode, args[0], operator=operator))
    else:
        shown = esc(" ".join(args)[:24])
        await reply(
            update,
            f"⚠️ I don't know the mode <code>{shown}</code>: use <code>/mode</code>, "
            "<code>/mode paper</code> or <code>/mode live</code>",
        )


async def start_tap(update: Update, context: Context) -> None:
    """The three buttons under /start: prices, positions, help."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    what = query.data.removeprefix(render_account.START_PREFIX)
    if what == "positions":
        if not await permitted(update, context, Action.ACCOUNT):
            return
        await query.answer()
        await account_handlers.positions(update, context)
    elif what == "price":
        await query.answer()
        await _prices(update, context)
    elif what == "help":
        await query.answer()
        await help_(update, context)
    else:
        await query.answer(STALE_BUTTON)


@guarded
async def _prices(update: Update, context: Context) -> None:
    r = rt(context)
    await reply(update, render_market.prices(await r.market.prices(list(START_MARKETS))))


@guarded
async def whoami(update: Update, context: Context) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    desk = rt(context)
    role = desk.role_of(user.id)
    where = "a private chat" if chat.type == "private" else f"a group (chat id {chat.id})"
    lines = [f"You are user <code>{user.id}</code> in {where}."]
    if role is None:
        lines.append("You are not on this bot's list of users.")
    else:
        lines.append(f"Your role: <b>{role}</b> — {esc(access.describe(role))}.")
        if len(desk.desks.memberships(user.id)) > 1:
            lines.append(f"Desk: <b>{esc(desk.desk.name)}</b> (/desk switches).")
        if access.is_group(chat.type) and chat.id not in desk.allowed_groups:
            lines.append(
                "In this group: market data and alerts only; the account and trading "
                "need a private chat with me."
            )
    await reply(update, "\n".join(lines))


def unknown_reply(text: str, line: CommandLine | None = None) -> str:
    """The one line for a message no handler took: the closest command, and /help.

    ``line`` is the command as Telegram marked it (:func:`handlers.common.command_of`), so
    ``/bal, btc`` is read as ``/bal`` with ``btc`` as the handler would read it.
    """
    if line is not None:
        text = " ".join([line.shown, *line.args])
    guess = suggest(text)
    first = text.split(maxsplit=1)[0] if text.split() else ""
    if first.startswith("/"):
        name = f"<code>{esc(first.split('@', 1)[0][:32])}</code>"
        if guess is not None:
            return f"❓ I don't know {name} — did you mean <code>{esc(guess)}</code>? See /help."
        return f"❓ I don't know {name}. /help lists what I can do."
    if guess is not None:
        return f"❓ Did you mean <code>{esc(guess)}</code>? Commands start with /; see /help."
    return "I answer commands, like <code>/price BTC</code>; /help lists them all."


async def unknown(update: Update, context: Context) -> None:
    """A command no handler took, or free text, in a private chat."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    await reply(update, unknown_reply(message.text, command_of(message)))


class _TakenElsewhere(filters.MessageFilter):
    """Commands a command handler of ours takes — read as they read them — and commands
    addressed to another bot (``/price@otherbot``), which are not ours to answer."""

    def filter(self, message: Message) -> bool:
        line = command_of(message)
        return line is not None and (not line.ours or line.name in access.COMMANDS)


def not_text_reply(caption: str | None) -> str:
    """The one line for a sticker, photo, file, voice or location in a private chat."""
    if caption and caption.lstrip().startswith("/"):
        command = esc(" ".join(caption.split())[:64])
        return (
            f"❓ I read commands in text messages only, not in a caption: send "
            f"<code>{command}</code> on its own."
        )
    return "I read text commands only, like <code>/price BTC</code>; /help lists them all."


async def not_text(update: Update, context: Context) -> None:
    """Anything but text in a private chat: say that only typed commands are read."""
    message = update.effective_message
    if message is None:
        return
    await reply(update, not_text_reply(message.caption))


async def stale_button(update: Update, context: Context) -> None:
    """A tap whose callback data no handler recognised: answer it so the client stops waiting."""
    query = update.callback_query
    if query is not None:
        await query.answer(STALE_BUTTON)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_),
        CommandHandler("mode", mode),
        CallbackQueryHandler(start_tap, pattern=f"^{render_account.START_PREFIX}"),
        CommandHandler("whoami", whoami),
    ]


def fallback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Register LAST: unknown commands and free text in private chats, and unknown buttons.

    Known commands are excluded by the filter too, so registering this early would not steal
    them; the callback handler, though, takes every tap and must come after all the others.
    """
    known = _TakenElsewhere()
    return [
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~known, unknown),
        MessageHandler(
            filters.ChatType.PRIVATE
            & filters.UpdateType.MESSAGE
            & ~filters.TEXT
            & ~filters.StatusUpdate.ALL,
            not_text,
        ),
        CallbackQueryHandler(stale_button),
    ]
