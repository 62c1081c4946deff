"""/arb: the best cross-venue funding spreads now (parse → arb service → render)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import arb as render
from handlers.common import Context, args_of, guarded, reply, rt

HELP: list[tuple[str, str, str]] = [
    ("arb", "best funding spreads between Backpack and the hedge venue", "/arb"),
]


@guarded
async def arb(update: Update, context: Context) -> None:
    if args_of(context):
        await reply(update, "<code>/arb</code> takes no arguments; for one asset: /funding BTC")
        return
    r = rt(context)
    if r.arb is None:
        await reply(update, render.no_hedge())
        return
    result = await r.arb.scan()
    await reply(update, render.scan(result, r.arb.primary.name, r.arb.hedge.name, r.clock))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("arb", arb)]
