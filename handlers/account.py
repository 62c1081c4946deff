"""/positions, /orders, /cancel, /balance, /account (+ the order Cancel buttons)."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.exchange.errors import BackpackError
from bot.render import account as render
from bot.render import arb as render_arb
from bot.render.common import esc
from bot.services.access import Refused
from handlers.common import Context, args_of, friendly, guarded, reply, rt, say_refusal
from handlers.guard import actor

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
    text, markup = render.positions([v for v in views if v.symbol not in paired], r.mode)
    if pairs:
        text = render_arb.pairs(pairs) + (
            "" if text.endswith("no open positions") else "\n\n" + text
        )
    await reply(update, text, markup)


@guarded
async def orders(update: Update, context: Context) -> None:
    r = rt(context)
    who = actor(update, context)
    if who is None:
        return
    text, markup = render.orders(await r.account.orders(who), r.mode)
    await reply(update, text, markup)


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
    await reply(update, render.cancelled([await r.account.cancel(word, actor=who)]))


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
