"""/dashboard: the button that opens the dashboard (a Telegram Mini App) inside the chat."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import dashboard as render
from handlers.common import Context, guarded, reply

HELP: list[tuple[str, str, str]] = [
    ("dashboard", "positions, PnL, funding and trades on one page", "/dashboard"),
]


@guarded
async def dashboard(update: Update, context: Context) -> None:
    server = context.bot_data.dashboard
    if server is None:
        await reply(update, render.DASHBOARD_OFF)
        return
    await reply(update, render.DASHBOARD_TEXT, render.dashboard_button(server.public_url))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("dashboard", dashboard)]
