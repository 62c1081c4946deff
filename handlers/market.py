"""/price, /funding, /book: parse → market service → render."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import arb as render_arb
from bot.render import market as render
from bot.render.common import esc
from handlers.common import Context, args_of, guarded, reply, rt

MAX_SYMBOLS = 10
#: A market as typed: ``btc``, ``SOL_USDC``, ``BTC_USDC_PERP`` — checked before any lookup so
#: markup, long pastes and look-alike characters get a plain answer.
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,39}$")


def bad_symbol(words: list[str], example: str) -> str | None:
    """The reply for the first word that cannot be a market name, or ``None``."""
    for w in words:
        if not _SYMBOL.match(w):
            shown = w if len(w) <= 24 else w[:21] + "..."
            return (
                f"⚠️ <code>{esc(shown)}</code> is not a market name; markets are letters and "
                f"digits, e.g. <code>{esc(example)}</code>"
            )
    return None


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
    problem = bad_symbol(words, "/price BTC ETH sol_usdc")
    if problem is not None:
        await reply(update, problem)
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
    problem = bad_symbol(words, "/funding BTC")
    if problem is not None:
        await reply(update, problem)
        return
    r = rt(context)
    views = await r.market.funding(words[0] if words else None)
    text = render.funding(views, r.clock, single=bool(words))
    if words and r.arb is not None and len(r.arb.hedges) > 1:
        rows = await r.arb.compare_all(views[0].symbol)
        text += "\n\n" + render_arb.venues_block(views[0].symbol, rows, r.clock)
    elif words and r.arb is not None:
        pair, edge = await r.arb.compare(views[0].symbol)
        text += "\n\n" + render_arb.pair_block(pair, edge, r.clock)
    await reply(update, text)


@guarded
async def book(update: Update, context: Context) -> None:
    words = args_of(context)
    if len(words) != 1:
        await reply(update, "Which market? e.g. <code>/book BTC</code>")
        return
    problem = bad_symbol(words, "/book BTC")
    if problem is not None:
        await reply(update, problem)
        return
    r = rt(context)
    await reply(update, render.book(await r.market.book(words[0])))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("price", price),
        CommandHandler("funding", funding),
        CommandHandler("book", book),
    ]
