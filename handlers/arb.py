"""/arb: the best cross-venue funding spreads now (parse → arb service → render)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.render import arb as render
from bot.render import strategy as render_strategy
from bot.services.access import Action, Refused
from bot.services.order_intent import IntentError
from bot.venues.port import VenueError
from handlers.common import Context, args_of, guarded, reply, rt, say_refusal
from handlers.guard import actor, permitted

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
    buttons = render.open_buttons(result) if r.strategy.cross is not None else None
    text = render.scan(result, r.arb.primary.name, r.arb.hedge.name, r.clock)
    await reply(update, text, buttons)


async def open_tap(update: Update, context: Context) -> None:
    """ "Open BTC": the cross entry as a strategy proposal (preview, then ✅ / ❌)."""
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None or query.message is None:
        return
    if not await permitted(update, context, Action.TRADE):
        return
    base = query.data.removeprefix(render.OPEN_PREFIX)
    r = rt(context)
    try:
        proposal = await r.strategy.propose_cross(base, who)
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
