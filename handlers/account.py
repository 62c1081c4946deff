"""/positions, /orders, /cancel, /balance, /account (+ the order Cancel buttons)."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.clock import now_ms
from bot.exchange.errors import BackpackError, NotFound
from bot.render import account as render
from bot.render import arb as render_arb
from bot.render import keyboards as render_keyboards
from bot.render.common import esc
from bot.services.access import Refused
from bot.storage.events import ORDER, POSITION, Button
from handlers.common import Context, args_of, friendly, guarded, reply, rt, say_refusal
from handlers.guard import actor

log = logging.getLogger("bot.handlers.account")

_ORDER_ID = re.compile(r"^\d{1,24}$")


@guarded
async def positions(update: Update, context: Context) -> None:
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    views = await r.account.positions(who)
    pairs = await r.strategy.cross.pairs() if r.strategy.cross is not None else []
    paired = {p.ours.symbol for p in pairs}
    # A pair's Backpack leg is shown in its pair's line, without a Close button that would
    # close one leg and leave the other naked.
    shown_views = [v for v in views if v.symbol not in paired]
    text, markup = render.positions(shown_views, r.mode, r.market.tick)
    if pairs:
        text = render_arb.pairs(pairs) + (
            "" if text.endswith("no open positions") else "\n\n" + text
        )
    await shown(context, await reply(update, text, markup), markup, text=text)


@guarded
async def orders(update: Update, context: Context) -> None:
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    text, markup = render.orders(await r.account.orders(who), r.mode, r.market.tick)
    await shown(context, await reply(update, text, markup), markup)


def _target(data: str) -> tuple[str, str]:
    """What a button acts on: a position (its symbol) or an order (its id)."""
    if data.startswith(render.CLOSE_PREFIX):
        return POSITION, data.removeprefix(render.CLOSE_PREFIX)
    if data.startswith(render.CANCEL_PREFIX) and data != f"{render.CANCEL_PREFIX}all":
        return ORDER, data.removeprefix(render.CANCEL_PREFIX)
    return "", ""


async def shown(
    context: Context,
    msg: Message | None,
    markup: InlineKeyboardMarkup | None,
    about: tuple[str, str] | None = None,
    text: str | None = None,
) -> None:
    """Record which position or order each button of ``msg`` acts on (``about``: all of them
    act on that one): when that closes, fills or is cancelled, the fill watcher edits the
    keyboard (and, given the message's ``text``, its text)."""
    if msg is None or markup is None:
        return
    r = rt(context)
    buttons = [
        Button(row, label, data, *(about or _target(data)))
        for row, label, data in render_keyboards.buttons(markup)
    ]
    await r.events.record(msg.chat_id, msg.message_id, buttons, now_ms(r.clock), text)


async def stale_tap(context: Context, query: CallbackQuery, answer: str) -> None:
    """A tap on a button whose position or order is gone: say what changed, drop the button."""
    await query.answer(answer[:190], show_alert=True)
    msg = query.message
    if msg is None or query.data is None:
        return
    kb = await rt(context).events.drop_button(msg.chat.id, msg.message_id, query.data)
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=msg.chat.id,
            message_id=msg.message_id,
            reply_markup=render_keyboards.markup(kb.rows),
        )
    except BadRequest as exc:  # deleted, or already without that button
        log.info("could not edit the buttons of %s: %s", msg.message_id, exc.message)


@guarded
async def cancel(update: Update, context: Context) -> None:
    words = args_of(context)
    example = (
        "e.g. <code>/cancel 8284661092</code> or <code>/cancel all</code> (ids are in /orders)"
    )
    if len(words) != 1:
        await reply(update, f"Which order? {example}")
        return
    r = rt(context)
    word = words[0].lower()
    who = actor(update, context)
    if who is None:
        return
    if word == "all":
        await reply(update, render.cancelled(await r.account.cancel_all(actor=who)))
        return
    if not _ORDER_ID.match(word):
        await reply(update, f"{esc(repr(word))} is not an order id; {example}")
        return
    try:
        await reply(update, render.cancelled([await r.account.cancel(word, actor=who)]))
    except NotFound:
        await reply(update, "🔍 " + render.order_gone(word, await _fate(context, word)))


async def _fate(context: Context, order_id: str) -> str | None:
    """What became of an order that is no longer open: as the bot saw it, else the exchange."""
    r = rt(context)
    return await r.events.fate(ORDER, order_id) or await r.account.order_fate(order_id)


async def cancel_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    target = query.data.removeprefix(render.CANCEL_PREFIX)
    try:
        done = (
            await r.account.cancel_all(actor=who)
            if target == "all"
            else [await r.account.cancel(target, actor=who)]
        )
        await query.answer("cancelled")
        await reply(update, render.cancelled(done))
    except NotFound:
        await stale_tap(context, query, render.order_gone(target, await _fate(context, target)))
    except BackpackError as exc:
        await query.answer(friendly(exc)[:190], show_alert=True)
    except Refused as exc:
        await say_refusal(update, exc.refusal)


@guarded
async def balance(update: Update, context: Context) -> None:
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    await reply(update, render.balances(await r.account.balances(who), r.mode))


@guarded
async def account(update: Update, context: Context) -> None:
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    await reply(update, render.account(await r.account.account(who), r.mode))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("positions", positions),
        CommandHandler("orders", orders),
        CommandHandler("cancel", cancel),
        CommandHandler("balance", balance),
        CommandHandler("account", account),
        CallbackQueryHandler(cancel_button, pattern=f"^{render.CANCEL_PREFIX}"),
    ]
