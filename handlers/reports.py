"""/daily, /weekly, /monthly, /stats, /version: the reports traders expect, from the same
service as the dashboard's PnL page."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.render import reports as render
from bot.services.reports import DEFAULT_PERIODS, MAX_PERIODS, ReportService, Span, bot_version
from handlers.common import Context, args_of, guarded, reply, rt
from handlers.guard import actor

HELP: list[tuple[str, str, str]] = [
    ("daily", "PnL per day: trades, realised, funding, fees, net, equity", "/daily  ·  /daily 14"),
    ("weekly", "PnL per week", "/weekly  ·  /weekly 8"),
    ("monthly", "PnL per month", "/monthly  ·  /monthly 12"),
    ("stats", "win rate, average hold, best/worst trade, funding share, drawdown", "/stats"),
    ("version", "the bot's version", "/version"),
]


def _reports(context: Context) -> ReportService:
    r = rt(context)
    return ReportService(r.journal, r.clock)


async def _table(update: Update, context: Context, span: Span) -> None:
    who = actor(update, context)
    if who is None:
        return
    words = args_of(context)
    command = {"day": "daily", "week": "weekly", "month": "monthly"}[span]
    count = DEFAULT_PERIODS[span]
    if words:
        if len(words) > 1 or not words[0].isdigit() or not 1 <= int(words[0]) <= MAX_PERIODS:
            await reply(
                update,
                f"⚠️ How many periods? A number from 1 to {MAX_PERIODS}, e.g. "
                f"<code>/{command} {count}</code>",
            )
            return
        count = int(words[0])
    rows = await _reports(context).table(span, count, who)
    await reply(update, render.period_table(span, rows, rt(context).mode))


@guarded
async def daily(update: Update, context: Context) -> None:
    await _table(update, context, "day")


@guarded
async def weekly(update: Update, context: Context) -> None:
    await _table(update, context, "week")


@guarded
async def monthly(update: Update, context: Context) -> None:
    await _table(update, context, "month")


@guarded
async def stats(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None:
        return
    await reply(update, render.stats(await _reports(context).stats(who), rt(context).mode))


@guarded
async def version(update: Update, context: Context) -> None:
    r = rt(context)
    await reply(update, render.version(bot_version(), r.mode, r.settings.exchange))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("daily", daily),
        CommandHandler("weekly", weekly),
        CommandHandler("monthly", monthly),
        CommandHandler("stats", stats),
        CommandHandler("version", version),
    ]
