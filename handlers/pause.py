"""/pause and /resume: stop or restart the strategy's new entries (exits, stops and the delta
check go on)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import strategy as render
from handlers.common import Context, args_of, guarded, reply, rt
from handlers.guard import actor

HELP: list[tuple[str, str, str]] = [
    ("pause", "no new strategy entries (exits and stops go on)", "/pause"),
    ("resume", "let the strategy enter again", "/resume"),
]


async def _set(update: Update, context: Context, paused: bool) -> None:
    who = actor(update, context)
    if who is None:
        return
    if args_of(context):
        await reply(update, f"<code>/{'pause' if paused else 'resume'}</code> takes no arguments")
        return
    await rt(context).strategy.set_paused(paused, actor=who)
    await reply(
        update,
        render.PAUSED
        if paused
        else "▶️ Resumed: the strategy may open positions again (mode unchanged; see /strategy)",
    )


@guarded
async def pause(update: Update, context: Context) -> None:
    await _set(update, context, True)


@guarded
async def resume(update: Update, context: Context) -> None:
    await _set(update, context, False)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("pause", pause), CommandHandler("resume", resume)]
