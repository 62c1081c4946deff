"""Role and group checks inside handlers (the pure rules are :mod:`bot.services.access`).

The update gate in ``bot/app.py`` is the first line; these let a handler check the finer cases
itself (``/strategy`` alone shows status, ``/strategy auto`` needs the owner) and answer with
the refusal's sentence.
"""

from __future__ import annotations

from telegram import Update

from bot.services.access import Action, Refusal, Role, check
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
