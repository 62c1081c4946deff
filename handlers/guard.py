"""Role and group checks inside handlers (the pure rules are :mod:`bot.services.access`).

The update gate in ``bot/app.py`` is the first line — :func:`refusal_for_update` and
:func:`send_refusal` are what it calls; :func:`permitted` lets a handler check the finer cases
itself (``/strategy`` alone shows status, ``/strategy auto`` needs the owner) and answer with
the refusal's sentence.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ParseMode

from bot.services.access import Action, Refusal, Role, check, check_callback, check_command
from bot.settings import Settings
from handlers.common import Context, reply, rt


def role_of(update: Update, context: Context) -> Role | None:
    """The role of the user behind ``update`` (``None``: not on the list)."""
    user = update.effective_user
    return rt(context).settings.role_of(user.id if user else None)


def refusal(update: Update, context: Context, action: Action) -> Refusal | None:
    chat = update.effective_chat
    return check(
        role_of(update, context),
        action,
        chat_type=chat.type if chat else "private",
        chat_id=chat.id if chat else 0,
        allowed_groups=rt(context).settings.telegram_allowed_groups,
    )


async def permitted(update: Update, context: Context, action: Action) -> bool:
    """True when the user may do ``action`` here; otherwise say why (message or button answer)."""
    refused = refusal(update, context, action)
    if refused is None:
        return True
    query = update.callback_query
    if query is not None:
        await query.answer(refused.short, show_alert=True)
    else:
        await reply(update, refused.text)
    return False


def refusal_for_update(update: Update, settings: Settings) -> Refusal | None:
    """The update gate's question: may this user send this command / tap this button here?

    ``None`` lets the update through. Commands the bot does not have and unknown buttons pass
    (the fallback handlers answer them); a stranger is refused whatever they send.
    """
    user, chat = update.effective_user, update.effective_chat
    role = settings.role_of(user.id if user else None)
    where: dict[str, Any] = {
        "chat_type": chat.type if chat else "private",
        "chat_id": chat.id if chat else 0,
        "allowed_groups": settings.telegram_allowed_groups,
    }
    query = update.callback_query
    if query is not None:
        return check_callback(role, query.data or "", **where)
    message = update.effective_message
    text = message.text if message is not None and message.text else ""
    if text.startswith("/"):
        command, *args = text.split()
        return check_command(role, command, args, **where)
    if role is None:
        return check(None, Action.GENERAL, chat_type="", chat_id=0)
    return None


async def send_refusal(update: Update, refused: Refusal) -> None:
    """Say the refusal: a short answer to a tap, or a message in the chat."""
    if update.callback_query is not None:
        await update.callback_query.answer(refused.short, show_alert=True)
    elif update.effective_chat is not None:
        await update.effective_chat.send_message(refused.text, parse_mode=ParseMode.HTML)
