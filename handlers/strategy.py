"""/strategy, /pnl, /trades, /backtest, /chart and the ✅/❌ under strategy proposals."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.render import strategy as render
from bot.render.common import esc
from bot.services.strategy import StrategyService
from bot.storage.strategy import MODES
from bot.strategy.model import ConfigError
from handlers.common import Context, args_of, guarded, reply, rt

log = logging.getLogger("bot.handlers.strategy")

MAX_BACKTEST_DAYS = 90
MAX_CHART_HOURS = 24 * 14
_DAYS = re.compile(r"^(\d{1,3})d?$")
_HOURS = re.compile(r"^(\d{1,4})([hd]?)$")


HELP: list[tuple[str, str, str]] = [
    (
        "strategy",
        "funding strategy: mode, config, candidates",
        "/strategy  ·  /strategy approve  ·  /strategy set kind carry",
    ),
    ("pnl", "realised, unrealised, funding, fees, net", "/pnl  ·  /pnl day  ·  /pnl week"),
    ("trades", "the strategy's last trades with reasons", "/trades"),
    ("backtest", "run the strategy on history, equity PNG", "/backtest BTC 30d"),
    ("chart", "price + funding chart, or top funding rates", "/chart BTC 24h  ·  /chart funding"),
]


def _service(context: Context) -> StrategyService:
    return rt(context).strategy


@guarded
async def strategy(update: Update, context: Context) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    args = args_of(context)
    svc = _service(context)
    mode = rt(context).mode
    if not args:
        await reply(update, render.status(await svc.status()))
        return
    word = args[0].lower()
    if word in MODES and len(args) == 1:
        await svc.set_mode(word, user_id=user.id, chat_id=chat.id)
        await reply(update, render.mode_set(word, mode))
        return
    if word == "set":
        if len(args) < 3:
            await reply(update, render.config_usage("give a key and a value"))
            return
        try:
            await svc.set_config(args[1], " ".join(args[2:]))
        except ConfigError as err:
            await reply(update, render.config_usage(str(err)))
            return
        await reply(update, render.config_saved(args[1], " ".join(args[2:])))
        return
    await reply(
        update,
        f"⚠️ I don't know <code>{esc(' '.join(args))}</code>. Use "
        "<code>/strategy</code>, <code>/strategy off|approve|auto</code> or "
        "<code>/strategy set entry_rate 0.0002</code>",
    )


@guarded
async def pnl(update: Update, context: Context) -> None:
    args = [a.lower() for a in args_of(context)]
    period = args[0] if args else "all"
    if len(args) > 1 or period not in ("day", "week", "all"):
        await reply(
            update, "⚠️ Use <code>/pnl</code>, <code>/pnl day</code> or <code>/pnl week</code>"
        )
        return
    svc = _service(context)
    await svc.journal.sync()
    await reply(update, render.pnl(await svc.journal.pnl(period)))  # type: ignore[arg-type]


@guarded
async def trades(update: Update, context: Context) -> None:
    svc = _service(context)
    await reply(update, render.trades(await svc.store.actions(limit=10)))


@guarded
async def backtest(update: Update, context: Context) -> None:
    args = args_of(context)
    if not 1 <= len(args) <= 2:
        await reply(update, "⚠️ Which market and how far back? e.g. <code>/backtest BTC 30d</code>")
        return
    days = 30
    if len(args) == 2:
        m = _DAYS.match(args[1].lower())
        if m is None or not 1 <= int(m.group(1)) <= MAX_BACKTEST_DAYS:
            await reply(
                update,
                f"⚠️ The window is a number of days from 1 to {MAX_BACKTEST_DAYS}, "
                "e.g. <code>/backtest BTC 30d</code>",
            )
            return
        days = int(m.group(1))
    svc = _service(context)
    symbol = await svc.market_api.resolve_symbol(args[0])
    if not symbol.endswith("_PERP"):
        await reply(update, f"⚠️ {esc(symbol)} is spot; backtests run on perps, e.g. BTC")
        return
    result, png = await svc.backtest(symbol, days)
    config = (await svc.store.settings()).config
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        png, caption=render.backtest(result, config.kind)[:1024], parse_mode=ParseMode.HTML
    )


@guarded
async def chart(update: Update, context: Context) -> None:
    args = [a.lower() for a in args_of(context)]
    chat = update.effective_chat
    if chat is None:
        return
    svc = _service(context)
    if args == ["funding"]:
        png = await svc.funding_chart()
        await chat.send_photo(png, caption="Funding rate per interval, top perps by |rate|")
        return
    if not 1 <= len(args) <= 2:
        await reply(
            update,
            "⚠️ e.g. <code>/chart BTC 24h</code> (price with funding) or "
            "<code>/chart funding</code>",
        )
        return
    hours = 24
    if len(args) == 2:
        m = _HOURS.match(args[1])
        value = int(m.group(1)) * (24 if m.group(2) == "d" else 1) if m else 0
        if not 1 <= value <= MAX_CHART_HOURS:
            await reply(
                update,
                f"⚠️ The window is 1h to {MAX_CHART_HOURS // 24}d, e.g. <code>/chart BTC 24h</code>",
            )
            return
        hours = value
    symbol, png = await svc.price_chart(args[0], hours)
    await chat.send_photo(png, caption=f"{symbol}, last {hours} h")


async def tap(update: Update, context: Context) -> None:
    query = update.callback_query
    user = update.effective_user
    if query is None or query.data is None or user is None:
        return
    approve = query.data.startswith(render.APPROVE_PREFIX)
    token = query.data.removeprefix(render.APPROVE_PREFIX).removeprefix(render.REJECT_PREFIX)
    svc = _service(context)
    mode = rt(context).mode
    try:
        res = await (svc.approve(token, user.id) if approve else svc.reject(token, user.id))
    except Exception:
        log.exception("strategy approval failed")
        await query.answer(
            "Something went wrong; check /positions before retrying", show_alert=True
        )
        return
    text = render.approval(res, mode)
    await query.answer(re.sub(r"<[^>]+>", "", text)[:190], show_alert=res.report is None)
    msg = query.message
    if msg is None:
        return
    try:
        await context.bot.edit_message_text(
            text, chat_id=msg.chat.id, message_id=msg.message_id, parse_mode=ParseMode.HTML
        )
    except BadRequest as exc:  # unchanged text after a duplicate tap
        log.info("could not edit proposal %s: %s", msg.message_id, exc.message)
    if res.proposal is not None:
        fresh_text, markup = render.proposal(res.proposal, mode)
        sent = await context.bot.send_message(
            msg.chat.id, fresh_text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
        await rt(context).trading.attach_message(res.proposal.token, sent.message_id)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("strategy", strategy),
        CommandHandler("pnl", pnl),
        CommandHandler("trades", trades),
        CommandHandler("backtest", backtest),
        CommandHandler("chart", chart),
        CallbackQueryHandler(tap, pattern=f"^({render.APPROVE_PREFIX}|{render.REJECT_PREFIX})"),
    ]
