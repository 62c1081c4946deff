"""/daily, /weekly, /monthly, /stats, /version: the reports traders expect, from the same
service as the dashboard's PnL page."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.desks.model import OPERATOR
from bot.render import reports as render
from bot.services.account.reports import (
    DEFAULT_PERIODS,
    MAX_PERIODS,
    ReportService,
    Span,
    bot_version,
)
from bot.services.health import health as check_health
from handlers.common import Context, args_of, guarded, reply, rt
from handlers.guard import actor

HELP: list[tuple[str, str, str]] = [
    ("daily", "PnL per day: trades, realised, funding, fees, net, equity", "/daily  ·  /daily 14"),
    ("weekly", "PnL per week", "/weekly  ·  /weekly 8"),
    ("monthly", "PnL per month", "/monthly  ·  /monthly 12"),
    ("stats", "win rate, average hold, best/worst trade, funding share, drawdown", "/stats"),
    ("version", "the bot's version", "/version"),
    ("health", "streams, strategy cycle, database, venues, outbox", "/health"),
    ("logs", "the last log lines, secrets redacted (operator's owners)", "/logs  ·  /logs 40"),
]
#: ``/logs`` without a number, and at most (a message holds about 4,000 characters).
LOG_DEFAULT, LOG_MAX = 20, 40


def _reports(context: Context) -> ReportService:
    r = rt(context)
    return ReportService(r.journal, r.clock, opened_ms=r.desk.created_at_ms)


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


@guarded
async def health(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None:
        return
    await reply(update, render.health(await check_health(rt(context), who)))


@guarded
async def logs(update: Update, context: Context) -> None:
    who = actor(update, context)
    tail = context.bot_data.log_tail
    if who is None or tail is None:
        return
    if rt(context).desk.id != OPERATOR:  # the log is the whole process's: every desk's lines
        await reply(update, render.logs_not_here())
        return
    words = args_of(context)
    count = LOG_DEFAULT
    if words:
        if len(words) > 1 or not words[0].isdigit() or not 1 <= int(words[0]) <= LOG_MAX:
            await reply(update, f"⚠️ How many lines? 1 to {LOG_MAX}, e.g. <code>/logs 20</code>")
            return
        count = int(words[0])
    await reply(update, render.logs(tail.tail(count, who), count))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("daily", daily),
        CommandHandler("weekly", weekly),
        CommandHandler("monthly", monthly),
        CommandHandler("stats", stats),
        CommandHandler("version", version),
        CommandHandler("health", health),
        CommandHandler("logs", logs),
    ]
