"""/start, /help and /mode."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand, Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import account as render_account
from bot.render.common import mode_badge
from handlers.common import Context, guarded, reply, rt

COMMANDS: list[tuple[str, str, str]] = [
    ("price", "prices: last, mark, 24h change, bid/ask", "/price BTC ETH sol_usdc"),
    ("funding", "funding rate, APR, next payment", "/funding BTC  ·  /funding"),
    ("book", "order book: levels, spread, depth", "/book ETH"),
    (
        "buy",
        "buy (market, $ notional, or limit)",
        "/buy BTC 0.01  ·  /buy SOL $200  ·  /buy BTC 0.01 @ 60000 post",
    ),
    ("sell", "sell / short", "/sell ETH 0.5  ·  /sell BTC 0.01 @ 70000 reduce"),
    ("close", "close a position (all or part)", "/close BTC  ·  /close BTC 50%"),
    ("positions", "open positions with Close buttons", "/positions"),
    ("orders", "open orders with Cancel buttons", "/orders"),
    ("cancel", "cancel an order or all", "/cancel 8284661092  ·  /cancel all"),
    ("balance", "balances", "/balance"),
    ("account", "fees, leverage, margin", "/account"),
    ("mode", "paper or live", "/mode"),
    ("help", "this help", "/help"),
]


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
    r = rt(context)
    await reply(update, help_text(r.mode, context.bot_data.help))


@guarded
async def mode(update: Update, context: Context) -> None:
    r = rt(context)
    await reply(update, render_account.mode(r.mode, r.settings.exchange))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler(["start", "help"], start),
        CommandHandler("mode", mode),
    ]
