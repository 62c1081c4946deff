"""The update gate: every update passes here before any handler (group -1).

In order: a key pasted in the chat is deleted; the sender's desk is resolved (their active desk,
or — for ``/start`` with an invite code, or anyone's ``/start`` under ``SIGNUP=open`` — the desk
they join or open now); strangers are refused; edits and role or group refusals are answered.
The desk found here is what :func:`handlers.common.rt` returns to every handler of the update.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.desks.model import DeskError, DeskLimit, Membership
from bot.render import strategy as render_strategy
from bot.render import trading as render_trading
from bot.render.desks import USE_PREFIX
from bot.services.access import reads_only
from bot.storage.desks_scope import desk_of_tap
from handlers.common import Context, command_of, fault_reference, reply, report_fault
from handlers.guard import drop_secret, refusal_for_update, send_refusal

log = logging.getLogger("bot.gate")

#: ``/start <code>`` outside a private chat.
IN_PRIVATE = (
    "Invite links work only in a private chat with me: open the link again and press Start "
    "there. A link posted in a group can be used by anyone in it, so ask for a new one if "
    "someone else might have opened it."
)


async def gate(update: object, context: Context) -> None:
    """Keys pasted in the chat, the desk, strangers, roles, group rules, edits.

    Whatever goes wrong here ends the update: python-telegram-bot would otherwise carry on to
    the handlers of the next group with no desk resolved.
    """
    if not isinstance(update, Update):
        return
    try:
        await _gate(update, context)
    except ApplicationHandlerStop:
        raise
    except Exception as exc:
        ref = fault_reference()
        log.error("the update gate failed (ref %s): %r", ref, exc, exc_info=exc)
        await report_fault(update, ref)
        raise ApplicationHandlerStop from None


async def _gate(update: Update, context: Context) -> None:
    if await drop_secret(update):  # a key pasted in the chat: gone before anyone reads it
        raise ApplicationHandlerStop
    factory = context.bot_data.factory
    if factory is None:  # updates before start-up finished are not handled
        raise ApplicationHandlerStop
    user = update.effective_user
    member = await _join(update, context)  # /start with an invite, or SIGNUP=open
    if member is None and user is not None:
        member = factory.shared.desks.active(user.id)
    if user is None or member is None:
        await _refuse(update, context, user.id if user else None)
        raise ApplicationHandlerStop
    member = await _tapped_desk(update, context, member)
    context.desk = await factory.get(member.desk.id)
    edited = update.edited_message
    if edited is not None and not reads_only(command_of(edited)):
        await edited.chat.send_message("✏️ Edits are ignored; send a new command.")
        raise ApplicationHandlerStop
    refusal = refusal_for_update(update, context.desk)
    if refusal is not None:
        await send_refusal(update, refusal)
        raise ApplicationHandlerStop


async def _join(update: Update, context: Context) -> Membership | None:
    """``/start <code>`` joins the desk the invite is for (anyone, member or not); a
    stranger's bare ``/start`` opens their own desk under ``SIGNUP=open``. ``None`` for any
    other update.

    A refusal (used or expired code, the bot full) is said here and ends the update.
    """
    line = command_of(update.effective_message)
    user = update.effective_user
    factory = context.bot_data.factory
    if line is None or line.name != "start" or user is None or factory is None:
        return None
    code = line.args[0] if line.args else None
    if update.effective_chat is None or update.effective_chat.type != "private":
        if code is not None:  # anyone in the group could use a code posted there
            await reply(update, IN_PRIVATE)
            raise ApplicationHandlerStop
        return None
    if code is None and factory.shared.desks.is_known(user.id):
        return None
    try:
        outcome = await factory.shared.desks.start(user.id, code, user.first_name)
    except DeskError as exc:
        await reply(update, exc.text)
        raise ApplicationHandlerStop from None
    if outcome is None:
        return None
    member = outcome.membership
    if outcome.kind in ("joined", "created", "already"):
        context.joined = outcome
    if outcome.kind in ("joined", "created"):
        log.info("user id=%s %s desk %s as %s", user.id, outcome.kind, member.desk.id, member.role)
    return member


#: Buttons whose callback data ends in a confirmation's or a strategy proposal's token.
_TOKEN_PREFIXES = (
    render_trading.CONFIRM_PREFIX,
    render_trading.CANCEL_PREFIX,
    render_strategy.APPROVE_PREFIX,
    render_strategy.REJECT_PREFIX,
)


async def _tapped_desk(update: Update, context: Context, active: Membership) -> Membership:
    """A button acts on the desk whose message carries it, not on whichever desk is active
    now: a user who switched desks after a preview (or /positions) and then taps its ✅ (or
    Close) acts on that preview's desk, once — never on the desk they switched to. Only for a
    desk the user is still on (with their role there); anything else stays on the active desk,
    where another desk's token is simply not found."""
    query, user, factory = update.callback_query, update.effective_user, context.bot_data.factory
    if query is None or query.data is None or query.message is None or user is None:
        return active
    if factory is None or query.data.startswith(USE_PREFIX):
        return active
    desks = factory.shared.desks
    if len(desks.memberships(user.id)) < 2:  # one desk: nothing to look up
        return active
    token = next(
        (query.data.removeprefix(p) for p in _TOKEN_PREFIXES if query.data.startswith(p)), None
    )
    msg = query.message
    desk_id = await desk_of_tap(factory.shared.db, msg.chat.id, msg.message_id, token)
    if desk_id is None or desk_id == active.desk.id:
        return active
    role, desk = desks.role(desk_id, user.id), desks.get(desk_id)
    if role is None or desk is None:
        return active
    return Membership(desk, role)


async def _refuse(update: Update, context: Context, uid: int | None) -> None:
    log.warning("refused update from unauthorised user id=%s", uid)
    factory = context.bot_data.factory
    signup = factory.shared.desks.signup if factory is not None else "closed"
    if update.callback_query is not None:
        await update.callback_query.answer("This bot is private.", show_alert=True)
        return
    told = context.bot_data.refused  # each stranger is told once per run
    if update.effective_chat is None or uid is None or uid in told:
        return
    told.add(uid)
    if signup == "open" and factory is not None and factory.shared.desks.full():
        text = DeskLimit().text
    elif signup == "open":
        text = "Send /start in a private chat with me to open your own desk (paper trading)."
    elif signup == "invite":
        text = (
            "This is a private trading bot. To join a desk, open the invite link its owner "
            "sent you (it starts with /start)."
        )
    else:
        text = "Sorry, this is a private trading bot and you are not on its list of users."
    await update.effective_chat.send_message(text)
