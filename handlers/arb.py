"""/arb: the best cross-venue funding spreads now (parse → arb service → render)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.exchange.errors import InvalidSymbol
from bot.render import arb as render
from bot.render import strategy as render_strategy
from bot.render.common import esc
from bot.services.access import Action, Refused
from bot.services.orders.intent import IntentError
from bot.venues.port import VenueError
from handlers.common import Context, args_of, guarded, reply, rt, say_refusal
from handlers.guard import actor, permitted

#: The longest window ``/chart spread`` draws (the stability windows go to 30 days).
MAX_SPREAD_DAYS = 30

HELP: list[tuple[str, str, str]] = [
    ("arb", "best funding spreads between Backpack and each hedge venue", "/arb"),
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
    result = await r.arb.scan(with_stability=True)
    buttons = render.open_buttons(result) if r.strategy.cross is not None else None
    names = ", ".join(v.name for v in r.arb.hedges.values())
    text = render.scan(result, r.arb.primary.name, names, r.clock)
    await reply(update, text, buttons)


CHART_USAGE = "e.g. <code>/chart spread BTC hyperliquid 7d</code> (venue and window optional)"


async def spread_chart(update: Update, context: Context, args: list[str]) -> None:
    """``/chart spread BTC [venue] [7d]``: Backpack's funding minus a hedge venue's, hourly."""
    r = rt(context)
    chat = update.effective_chat
    if chat is None:
        return
    if r.arb is None:
        await reply(update, render.no_hedge())
        return
    if not args or len(args) > 3:
        await reply(update, f"⚠️ {CHART_USAGE}")
        return
    venue_id: str | None = None
    days = 7
    for word in args[1:]:
        if word[:-1].isdigit() and word[-1] in "dh":
            n = int(word[:-1])
            days = max(1, n if word[-1] == "d" else -(-n // 24))
            if days > MAX_SPREAD_DAYS:
                await reply(update, f"⚠️ at most {MAX_SPREAD_DAYS}d of history; {CHART_USAGE}")
                return
        else:
            venue_id = word
    try:
        e, series, steady = await r.arb.spread_chart(args[0], venue_id, days)
    except VenueError as exc:
        await reply(update, f"⚠️ {esc(exc.venue)}: {esc(exc.message)}")
        return
    except InvalidSymbol as exc:
        await reply(update, f"⚠️ {esc(exc.message)}")
        return
    title = f"{e.base}: backpack − {e.hedge.venue} funding, last {days}d"
    from bot.render.charts import spread_png  # matplotlib: ~0.5 s and ~35 MB, load on use

    png = spread_png(title, series)
    await chat.send_photo(
        png, caption=render.spread_caption(e, steady, days)[:1024], parse_mode=ParseMode.HTML
    )


async def open_tap(update: Update, context: Context) -> None:
    """ "Open BTC": the cross entry as a strategy proposal (preview, then ✅ / ❌)."""
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None or query.message is None:
        return
    if not await permitted(update, context, Action.TRADE):
        return
    base, _, venue_id = query.data.removeprefix(render.OPEN_PREFIX).partition(":")
    r = rt(context)
    try:
        proposal = await r.strategy.propose_cross(base, who, venue_id=venue_id or None)
    except IntentError as exc:
        await query.answer(exc.problem[:190], show_alert=True)
        return
    except Refused as exc:
        await say_refusal(update, exc.refusal)
        return
    except VenueError as exc:
        await query.answer(f"{exc.venue}: {exc.message}"[:190], show_alert=True)
        return
    await query.answer()
    text, markup = render_strategy.proposal(proposal, r.mode)
    sent = await context.bot.send_message(
        query.message.chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup
    )
    await r.trading.attach_message(proposal.token, sent.message_id)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("arb", arb),
        CallbackQueryHandler(open_tap, pattern=f"^{render.OPEN_PREFIX}"),
    ]
