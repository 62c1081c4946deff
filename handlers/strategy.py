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
from bot.services.access import STRATEGY_VIEWS, Action, Actor, Refused
from bot.services.chat.numbers import NumberError, human_duration, parse_duration
from bot.services.strategy.control import MAX_BACKTEST_DAYS, CrossBacktest, StrategyService
from bot.storage.desk_locks import DeskBusy
from bot.storage.strategy import MODES
from bot.strategy.model import CONFIG_KEYS, ConfigError
from handlers.arb import spread_chart
from handlers.common import Context, args_of, friendly, guarded, reply, rt, say_refusal
from handlers.guard import actor, permitted
from handlers.market import bad_symbol

log = logging.getLogger("bot.handlers.strategy")

DAY = 86_400
#: The chart loads 15-minute klines up to a day and hourly ones beyond; two weeks stay readable.
MAX_CHART_HOURS = 24 * 14
_KEY = re.compile(r"^[a-z_0-9]{1,40}$")
#: ``/strategy config`` and ``/strategy candidates`` (read-only, like ``/strategy`` alone).
VIEWS = STRATEGY_VIEWS
#: What a tap on a /strategy button with data we do not know gets (as every other handler).
STALE_BUTTON = "This button is no longer valid"
#: ``/strategy candidates`` lists every perp evaluated, up to this many.
ALL_CANDIDATES = 200


HELP: list[tuple[str, str, str]] = [
    (
        "strategy",
        "funding strategy: mode, positions, top candidates",
        "/strategy  ·  /strategy config  ·  /strategy candidates  ·  /strategy approve  ·  "
        "/strategy set kind carry",
    ),
    (
        "pnl",
        "realised, unrealised, funding, fees, net",
        "/pnl  ·  /pnl day  ·  /pnl week  ·  /pnl all",
    ),
    ("trades", "the strategy's last trades with reasons", "/trades"),
    ("backtest", "run the strategy on history, equity PNG", "/backtest BTC 30d"),
    (
        "chart",
        "price + funding chart, top funding rates, or a cross-venue spread",
        "/chart BTC 24h  ·  /chart funding  ·  /chart spread BTC hyperliquid 7d",
    ),
]


def _service(context: Context) -> StrategyService:
    return rt(context).strategy


@guarded
async def strategy(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None:
        return
    args = args_of(context)
    svc = _service(context)
    mode = rt(context).mode
    if not args:
        if await permitted(update, context, Action.ACCOUNT):
            st = await svc.status(who)
            await reply(update, render.status(st), render.buttons(st.mode))
        return
    if args[0].lower() in VIEWS and len(args) == 1:
        if await permitted(update, context, Action.ACCOUNT):
            await reply(update, await _view(svc, who, args[0].lower()))
        return
    word = args[0].lower()
    if word in MODES and len(args) == 1:
        if await permitted(update, context, Action.STRATEGY):
            await svc.set_mode(word, actor=who)
            await reply(update, render.mode_set(word, mode))
        return
    if word == "set":
        if not await permitted(update, context, Action.STRATEGY):
            return
        if len(args) < 3:
            await reply(update, render.config_usage("give a key and a value"))
            return
        key, value = args[1].lower(), " ".join(args[2:])
        if not _KEY.match(key) or key not in CONFIG_KEYS:
            await reply(update, render.config_usage(typed_key=args[1][:40]))
            return
        try:
            if key == "symbols":
                value = await _check_symbols(svc, value)
            updated = await svc.set_config(key, value, actor=who)
        except ConfigError as err:
            await reply(update, render.config_usage(str(err)))
            return
        await reply(update, render.config_saved(updated, key))
        return
    shown = " ".join(args)
    await reply(
        update,
        f"⚠️ I don't know <code>/strategy {esc(shown[:60])}</code>. Use "
        "<code>/strategy</code>, <code>/strategy config</code>, <code>/strategy candidates</code>, "
        "<code>/strategy off</code>, <code>/strategy approve</code>, <code>/strategy auto</code> "
        "or <code>/strategy set entry_rate 0.02%</code>",
    )


async def _view(svc: StrategyService, who: Actor, view: str) -> str:
    """``/strategy config`` or ``/strategy candidates``."""
    if view == "config":
        return render.config_view(await svc.status(who, limit=0))
    return render.candidates_view(await svc.status(who, limit=ALL_CANDIDATES))


async def view_tap(update: Update, context: Context) -> None:
    """The buttons under ``/strategy``: another view, or another mode."""
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None:
        return
    svc = _service(context)
    if query.data.startswith(render.MODE_PREFIX):
        word = query.data.removeprefix(render.MODE_PREFIX)
        if word not in MODES:
            await query.answer(STALE_BUTTON)
            return
        if not await permitted(update, context, Action.STRATEGY):
            return
        await svc.set_mode(word, actor=who)
        await query.answer(f"Strategy mode: {word}")
        await reply(update, render.mode_set(word, rt(context).mode))
        return
    view = query.data.removeprefix(render.VIEW_PREFIX)
    if view not in VIEWS:
        await query.answer(STALE_BUTTON)
        return
    if not await permitted(update, context, Action.ACCOUNT):
        return
    await query.answer()
    await reply(update, await _view(svc, who, view))


async def _check_symbols(svc: StrategyService, text: str) -> str:
    """Every market in a ``symbols`` list must be a perp that exists (``FOO`` is refused)."""
    if text.strip().lower() in ("", "all", "*", "-"):
        return text
    parts = [p.strip() for p in text.split(",") if p.strip()]
    CONFIG_KEYS["symbols"].parse("symbols", text)  # the shape first: no lookups of junk
    markets = await svc.market_api.load_markets()
    perps = {m.base.upper() for m in markets.values() if m.is_perp}
    perps |= {s.upper() for s, m in markets.items() if m.is_perp}
    unknown = [p for p in parts if p.upper() not in perps]
    if unknown:
        some = ", ".join(sorted({m.base for m in markets.values() if m.is_perp})[:12])
        raise ConfigError(
            f"no perp market {', '.join(repr(u.upper()[:24]) for u in unknown[:5])}; "
            f"the strategy trades perps such as {some}"
        )
    return ",".join(p.upper() for p in parts)


@guarded
async def pnl(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None or not await permitted(update, context, Action.ACCOUNT):
        return
    args = [a.lower() for a in args_of(context)]
    period = args[0] if args else "all"
    if len(args) > 1 or period not in ("day", "week", "all"):
        shown = esc(" ".join(args)[:24])
        await reply(
            update,
            f"⚠️ I don't know the period <code>{shown}</code>: use <code>/pnl day</code>, "
            "<code>/pnl week</code> or <code>/pnl all</code> (the default)",
        )
        return
    svc = _service(context)
    text = render.pnl(await svc.journal.pnl(period, actor=who))  # type: ignore[arg-type]
    if svc.cross is not None:
        since = {"day": 86_400_000, "week": 7 * 86_400_000}.get(period)
        start = svc.now_ms() - since if since else 0
        for venue, rows in (await svc.cross.funding_by_venue(start)).items():
            text += "\n\n" + render.hedge_funding(venue, rows)
    await reply(update, text)


@guarded
async def trades(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None or not await permitted(update, context, Action.ACCOUNT):
        return
    await reply(update, render.trades(await _service(context).trades(who)))


@guarded
async def backtest(update: Update, context: Context) -> None:
    args = args_of(context)
    if not 1 <= len(args) <= 2:
        await reply(update, "⚠️ Which market and how far back? e.g. <code>/backtest BTC 30d</code>")
        return
    problem = bad_symbol(args[:1], "/backtest BTC 30d")
    if problem is not None:
        await reply(update, problem)
        return
    days = 30
    if len(args) == 2:
        try:
            window = parse_duration(
                args[1],
                what="window",
                example="/backtest BTC 30d",
                units="dw",
                default_unit="d",
                low=DAY,
                high=MAX_BACKTEST_DAYS * DAY,
            )
        except NumberError as err:
            await reply(
                update,
                f"⚠️ {esc(err.problem)} The history goes back {MAX_BACKTEST_DAYS} days, "
                "e.g. <code>/backtest BTC 30d</code>",
            )
            return
        days = window.seconds // DAY
    svc = _service(context)
    symbol = await svc.market_api.resolve_symbol(args[0])
    if not symbol.endswith("_PERP"):
        await reply(update, f"⚠️ {esc(symbol)} is spot; backtests run on perps, e.g. BTC")
        return
    result, png = await svc.backtest(symbol, days)
    config = (await svc.store.settings()).config
    chat = update.effective_chat
    assert chat is not None
    caption = (
        render.cross_backtest(result.result, result.base, result.venues, result.days)
        if isinstance(result, CrossBacktest)
        else render.backtest(result, config.kind)
    )
    await chat.send_photo(png, caption=caption[:1024], parse_mode=ParseMode.HTML)


@guarded
async def chart(update: Update, context: Context) -> None:
    args = [a.lower() for a in args_of(context)]
    chat = update.effective_chat
    if chat is None:
        return
    svc = _service(context)
    if args[:1] == ["spread"]:
        await spread_chart(update, context, args[1:])
        return
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
    problem = bad_symbol(args[:1], "/chart BTC 24h")
    if problem is not None:
        await reply(update, problem)
        return
    hours = 24
    if len(args) == 2:
        try:
            window = parse_duration(
                args[1],
                what="window",
                example="/chart BTC 24h",
                units="hdw",
                default_unit="h",
                low=3600,
                high=MAX_CHART_HOURS * 3600,
            )
        except NumberError as err:
            await reply(update, f"⚠️ {esc(err.problem)} e.g. <code>/chart BTC 24h</code>")
            return
        hours = window.seconds // 3600
    symbol, png = await svc.price_chart(args[0], hours)
    await chat.send_photo(png, caption=f"{symbol}, last {human_duration(hours * 3600)}")


async def tap(update: Update, context: Context) -> None:
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None:
        return
    if not await permitted(update, context, Action.TRADE):
        return
    approve = query.data.startswith(render.APPROVE_PREFIX)
    token = query.data.removeprefix(render.APPROVE_PREFIX).removeprefix(render.REJECT_PREFIX)
    svc = _service(context)
    mode = rt(context).mode
    try:
        res = await (svc.approve(token, who) if approve else svc.reject(token, who))
    except Refused as exc:
        await say_refusal(update, exc.refusal)
        return
    except DeskBusy as exc:  # nothing claimed or sent: the ✅ stays live for a second tap
        await query.answer(friendly(exc), show_alert=True)
        return
    except Exception:
        log.exception("strategy approval failed")
        await query.answer(
            "The proposal could not be executed (the error is logged); check /positions "
            "before retrying",
            show_alert=True,
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
        CallbackQueryHandler(view_tap, pattern=f"^({render.VIEW_PREFIX}|{render.MODE_PREFIX})"),
    ]
