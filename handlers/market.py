"""/price, /funding, /book: parse → market service → render."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import market as render
from handlers.common import Context, args_of, guarded, reply, rt

MAX_SYMBOLS = 10


@guarded
async def price(update: Update, context: Context) -> None:
    words = [w.strip(",") for w in args_of(context) if w.strip(",")]
    if not words:
        await reply(
            update,
            "Which market? e.g. <code>/price BTC</code> or <code>/price BTC ETH sol_usdc</code>",
        )
        return
    if len(words) > MAX_SYMBOLS:
        await reply(
            update, f"At most {MAX_SYMBOLS} markets at once, e.g. <code>/price BTC ETH SOL</code>"
        )
        return
    r = rt(context)
    await reply(update, render.prices(await r.market.prices(words)))


@guarded
async def funding(update: Update, context: Context) -> None:
    words = args_of(context)
    if len(words) > 1:
        await reply(
            update,
            "One market at a time, e.g. <code>/funding BTC</code>, "
            "or <code>/funding</code> for the top 10",
        )
        return
    r = rt(context)
    views = await r.market.funding(words[0] if words else None)
    await reply(update, render.funding(views, r.clock, single=bool(words)))


@guarded
async def book(update: Update, context: Context) -> None:
    words = args_of(context)
    if len(words) != 1:
        await reply(update, "Which market? e.g. <code>/book BTC</code>")
        return
    r = rt(context)
    await reply(update, render.book(await r.market.book(words[0])))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("price", price),
        CommandHandler("funding", funding),
        CommandHandler("book", book),
    ]
