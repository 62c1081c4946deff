"""/desk, /invite, /connect, /disconnect: a user's desks, their members and their keys.

The rules (who may invite, single-use codes, ``MAX_DESKS``, sealing keys) live in
:mod:`bot.desks`; this module reads the command, asks, and renders.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.desks.connect import OPERATOR_KEYS
from bot.desks.factory import BACKPACK
from bot.desks.model import DeskError
from bot.render import desks as render
from bot.render.common import esc
from bot.services.access import Action
from handlers.common import Context, args_of, guarded, reply, rt
from handlers.guard import permitted

HELP: list[tuple[str, str, str]] = [
    ("desk", "your desk: mode, keys, members; switch desks", "/desk"),
    ("invite", "a one-time link that adds a trader or viewer to this desk", "/invite trader"),
    ("connect", "connect this desk's exchange keys (a form, not the chat)", "/connect backpack"),
    ("disconnect", "wipe this desk's exchange keys", "/disconnect backpack"),
]


@guarded
async def desk(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    r = rt(context)
    desks = r.desks
    args = args_of(context)
    if len(args) > 1:
        await reply(update, render.desk_usage())
        return
    if args:  # /desk <id>: switch, for desks beyond the buttons
        try:
            member = await desks.choose(user.id, args[0])
        except DeskError as exc:
            await reply(update, exc.text)
            return
        await reply(update, render.switched(member))
        return
    mine = desks.memberships(user.id)
    active = next((m for m in mine if m.desk.id == r.desk.id), None)
    if active is None:
        return
    others = [m for m in mine if m.desk.id != r.desk.id]
    keys = await desks_keys(context, r.desk.id)
    members = desks.members(r.desk.id) if active.role == "owner" else None
    text, markup = render.desk_view(active, others, mode=r.mode, keys=keys, members=members)
    await reply(update, text, markup)


async def desks_keys(context: Context, desk_id: str) -> dict[str, str]:
    factory = context.bot_data.factory
    if factory is None:
        return {}
    return await factory.shared.keys.venues(desk_id)


@guarded
async def use(update: Update, context: Context) -> None:
    """A tap on "Switch to …" under /desk."""
    query, user = update.callback_query, update.effective_user
    if query is None or query.data is None or user is None:
        return
    desk_id = query.data.removeprefix(render.USE_PREFIX)
    try:
        member = await rt(context).desks.choose(user.id, desk_id)
    except DeskError as exc:
        await query.answer(exc.text[:200], show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(render.switched(member), parse_mode="HTML")


@guarded
async def invite(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None or not await permitted(update, context, Action.DESK):
        return
    args = [a.lower() for a in args_of(context)]
    if len(args) != 1 or args[0] not in ("trader", "viewer"):
        await reply(update, render.invite_usage())
        return
    r = rt(context)
    try:
        made = await r.desks.invite(r.desk.id, user.id, args[0])  # type: ignore[arg-type]
    except DeskError as exc:
        await reply(update, exc.text)
        return
    await reply(update, render.invite_text(made, context.bot.username))


def _venue(context: Context) -> str | None:
    args = [a.lower() for a in args_of(context)]
    if len(args) != 1 or args[0] not in render.VENUE_NAMES:
        return None
    return args[0]


@guarded
async def connect(update: Update, context: Context) -> None:
    if not await permitted(update, context, Action.DESK):
        return
    venue = _venue(context)
    if venue is None:
        await reply(update, render.connect_usage())
        return
    r = rt(context)
    s = r.settings
    if s.paper:
        await reply(
            update,
            "🧪 This bot trades on paper (<code>TRADING_MODE=paper</code>): every desk has a "
            "paper account and no keys are connected here.",
        )
        return
    if r.desk.operator:
        await reply(update, esc(OPERATOR_KEYS))
        return
    factory = context.bot_data.factory
    if factory is None or not factory.shared.keys.configured:
        await reply(
            update,
            "🔒 Keys cannot be connected on this bot yet: its operator has not set "
            "<code>SECRETS_KEYRING</code>, and the bot never keeps keys unsealed.",
        )
        return
    server = context.bot_data.dashboard
    if server is None:
        await reply(
            update,
            "🔑 The key form is a page of the bot's dashboard, which is off: the operator sets "
            "<code>WEBAPP_URL</code> (see the README).",
        )
        return
    text, markup = render.connect_button(server.connect_url(venue), venue)
    await reply(update, text, markup)


@guarded
async def disconnect(update: Update, context: Context) -> None:
    if not await permitted(update, context, Action.DESK):
        return
    venue = _venue(context)
    factory = context.bot_data.factory
    if venue is None or factory is None:
        await reply(update, render.disconnect_usage())
        return
    r = rt(context)
    if r.desk.operator and not r.settings.paper:  # its keys are the settings', not stored
        await reply(update, esc(OPERATOR_KEYS))
        return
    desk_id = r.desk.id
    wiped = await factory.shared.keys.delete(desk_id, venue)
    if wiped:  # the desk's clients are rebuilt without them at its next use
        if venue == BACKPACK:
            await factory.shared.desks.clear_revoked(desk_id)
        await factory.drop(desk_id)
    await reply(update, render.disconnected(venue, wiped))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("desk", desk),
        CommandHandler("invite", invite),
        CommandHandler("connect", connect),
        CommandHandler("disconnect", disconnect),
        CallbackQueryHandler(use, pattern=f"^{render.USE_PREFIX}"),
    ]
