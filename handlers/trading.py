"""/buy, /sell, /close, /sl, /tp, the ✅ / ❌ taps and the per-position Close buttons.

Thin adapters: parse → :class:`bot.services.orders.confirm.TradingService` →
:mod:`bot.render.trading`.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.render import account as render_account
from bot.render import trading as render
from bot.render.account import CLOSE_PREFIX
from bot.services.access import Refused
from bot.services.orders.confirm import Outcome, Status, TradingService
from bot.services.orders.intent import (
    CloseIntent,
    Intent,
    IntentError,
    StopKind,
    StopOff,
    parse_close,
    parse_order,
    parse_stop,
)
from bot.storage.desk_locks import DeskBusy
from bot.storage.events import POSITION
from handlers.account import shown, stale_tap
from handlers.common import Context, args_of, friendly, guarded, reply, rt, say_refusal
from handlers.guard import actor

log = logging.getLogger("bot.handlers.trading")


def service(context: Context) -> TradingService:
    return rt(context).trading


async def _preview(update: Update, context: Context, intent: Intent) -> None:
    who = actor(update, context)
    if who is None:
        return
    svc = service(context)
    try:
        p = await svc.preview(who, intent)
    except IntentError as err:
        await reply(update, render.intent_error(err))
        return
    markup = render.keyboard(p.token)
    msg = await reply(update, render.preview(p), markup)
    if msg is not None:
        await svc.attach_message(p.token, msg.message_id)
        if isinstance(intent, CloseIntent) or all(leg.is_stop for leg in p.legs):
            # A close or a stop is about one position: its ✅ goes when the position does.
            await shown(context, msg, markup, (POSITION, p.legs[0].symbol))


@guarded
async def buy(update: Update, context: Context) -> None:
    try:
        intent = parse_order("buy", args_of(context))
    except IntentError as err:
        await reply(update, render.intent_error(err))
        return
    await _preview(update, context, intent)


@guarded
async def sell(update: Update, context: Context) -> None:
    try:
        intent = parse_order("sell", args_of(context))
    except IntentError as err:
        await reply(update, render.intent_error(err))
        return
    await _preview(update, context, intent)


@guarded
async def close(update: Update, context: Context) -> None:
    try:
        intent = parse_close(args_of(context))
    except IntentError as err:
        await reply(update, render.intent_error(err))
        return
    await _preview(update, context, intent)


async def _stop(update: Update, context: Context, kind: StopKind) -> None:
    who = actor(update, context)
    if who is None:
        return
    try:
        intent = parse_stop(kind, args_of(context))
    except IntentError as err:
        await reply(update, render.intent_error(err))
        return
    if isinstance(intent, StopOff):
        symbol, done = await rt(context).account.stops_off(intent.market, kind, actor=who)
        await reply(update, render_account.stops_off(symbol, kind, done))
        return
    await _preview(update, context, intent)


@guarded
async def stop_loss(update: Update, context: Context) -> None:
    await _stop(update, context, "sl")


@guarded
async def take_profit(update: Update, context: Context) -> None:
    await _stop(update, context, "tp")


@guarded
async def close_button(update: Update, context: Context) -> None:
    """A Close button under /positions: a preview for closing that whole position."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    symbol = query.data.removeprefix(CLOSE_PREFIX)
    if await rt(context).account_api.get_position(symbol) is None:
        await stale_tap(context, query, render_account.position_gone(symbol))
        return
    await query.answer()
    await _preview(update, context, CloseIntent(market=symbol))


async def confirm_button(update: Update, context: Context) -> None:
    await _tap(update, context, confirm=True)


async def cancel_button(update: Update, context: Context) -> None:
    await _tap(update, context, confirm=False)


async def _tap(update: Update, context: Context, *, confirm: bool) -> None:
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None:
        return
    prefix = render.CONFIRM_PREFIX if confirm else render.CANCEL_PREFIX
    token = query.data.removeprefix(prefix)
    svc = service(context)
    answered = False

    async def acknowledge(outcome: Outcome) -> None:
        nonlocal answered
        text, as_alert = render.alert(outcome)
        await query.answer(text, show_alert=as_alert)
        answered = True

    try:
        if confirm:
            outcome = await svc.confirm(who, token, on_sent=acknowledge)
        else:
            outcome = await svc.cancel(who, token)
    except Refused as exc:  # the service's own check: nothing was looked up or sent
        await say_refusal(update, exc.refusal)
        return
    except DeskBusy as exc:  # nothing claimed or sent: the ✅ stays live for a second tap
        await query.answer(friendly(exc), show_alert=True)
        return
    except Exception as exc:  # the service already journals what it sent; tell the user
        log.exception("confirmation %s failed", "tap" if confirm else "cancel")
        if not answered:
            await query.answer(friendly(exc)[:190], show_alert=True)
        return
    if not answered:
        await acknowledge(outcome)
    await present(context, outcome, query)


async def present(context: Context, outcome: Outcome, query: CallbackQuery | None = None) -> None:
    """Show an outcome in the chat: the preview message is edited into it, and that is the
    one message about this tap (the fill watcher skips the fills it shows)."""
    if outcome.status is Status.REQUOTED and outcome.new_preview is not None:
        fresh = outcome.new_preview
        msg_id = _message_id(outcome, query)
        if msg_id is not None:
            await _edit(context, fresh.chat_id, msg_id, render.preview(fresh), fresh.token)
            await service(context).attach_message(fresh.token, msg_id)
        return
    if outcome.status in (Status.NOT_FOUND,) and query is not None and query.message is not None:
        await _edit_markup_off(context, query.message.chat.id, query.message.message_id)
        return
    final = render.final(outcome)
    msg_id = _message_id(outcome, query)
    if final is not None and outcome.chat_id is not None and msg_id is not None:
        await _edit(context, outcome.chat_id, msg_id, final, None)


def _message_id(outcome: Outcome, query: CallbackQuery | None) -> int | None:
    if query is not None and query.message is not None:
        return query.message.message_id
    return outcome.message_id


async def _edit(
    context: Context, chat_id: int, message_id: int, text: str, token: str | None
) -> None:
    try:
        await context.bot.edit_message_text(
            text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=render.keyboard(token) if token is not None else None,
        )
    except BadRequest as exc:  # "message is not modified" after a duplicate tap, or deleted
        log.info("could not edit message %s: %s", message_id, exc.message)


async def _edit_markup_off(context: Context, chat_id: int, message_id: int) -> None:
    try:
        await context.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
    except BadRequest as exc:
        log.info("could not remove buttons from %s: %s", message_id, exc.message)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("buy", buy),
        CommandHandler("sell", sell),
        CommandHandler("close", close),
        CommandHandler("sl", stop_loss),
        CommandHandler("tp", take_profit),
        CallbackQueryHandler(confirm_button, pattern=f"^{render.CONFIRM_PREFIX}"),
        CallbackQueryHandler(cancel_button, pattern=f"^{render.CANCEL_PREFIX}"),
        CallbackQueryHandler(close_button, pattern=f"^{CLOSE_PREFIX}"),
    ]
