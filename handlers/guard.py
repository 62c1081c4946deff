"""Role and group checks inside handlers (the pure rules are :mod:`bot.services.access`).

The update gate in ``bot/app.py`` is the first line — :func:`refusal_for_update` and
:func:`send_refusal` are what it calls. The services are the second: every operation that
changes or shows the account takes the :func:`actor` built here and refuses by itself
(:class:`~bot.services.access.Refused`, rendered by ``handlers.common.guarded``).
:func:`permitted` lets a handler check the finer cases itself (``/strategy`` alone shows
status, ``/strategy auto`` needs the owner) and answer with the refusal's sentence.

Commands are read once, the way python-telegram-bot's ``CommandHandler`` reads them
(:func:`handlers.common.command_of`), so ``/cancel, all`` is ``/cancel`` here exactly as in
the handler.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.container import Services
from bot.keyring.spot import spot
from bot.render.keys import secret_removed
from bot.services.access import Action, Actor, Refusal, Role, check, check_callback, check_command
from handlers.common import Context, command_of, rt, say_refusal

log = logging.getLogger("bot.guard")


def role_of(update: Update, context: Context) -> Role | None:
    """The role of the user behind ``update`` (``None``: not on the list)."""
    user = update.effective_user
    return rt(context).role_of(user.id if user else None)


def actor_of(update: Update, services: Services) -> Actor | None:
    """The acting user of ``update`` for the services: id, role on the desk, chat and its kind."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return Actor(
        user_id=user.id,
        role=services.role_of(user.id),
        chat_id=chat.id,
        chat_type=chat.type,
        allowed_groups=services.allowed_groups,
    )


def actor(update: Update, context: Context) -> Actor | None:
    """:func:`actor_of` on the update's desk (``None`` for an update without a user)."""
    return actor_of(update, rt(context))


def refusal(update: Update, context: Context, action: Action) -> Refusal | None:
    who = actor(update, context)
    if who is None:
        return check(None, action, chat_type="", chat_id=0)
    return who.refusal(action)


async def permitted(update: Update, context: Context, action: Action) -> bool:
    """True when the user may do ``action`` here; otherwise say why (message or button answer)."""
    refused = refusal(update, context, action)
    if refused is None:
        return True
    await say_refusal(update, refused)
    return False


def refusal_for_update(update: Update, services: Services) -> Refusal | None:
    """The update gate's question: may this user send this command / tap this button here?

    ``None`` lets the update through. Commands the bot does not have, commands for another
    bot and unknown buttons pass (the fallback handlers answer them); a stranger is refused
    whatever they send.
    """
    user, chat = update.effective_user, update.effective_chat
    role = services.role_of(user.id if user else None)
    chat_type = chat.type if chat else "private"
    chat_id = chat.id if chat else 0
    groups = services.allowed_groups
    query = update.callback_query
    if query is not None:
        data = query.data or ""
        return check_callback(
            role, data, chat_type=chat_type, chat_id=chat_id, allowed_groups=groups
        )
    line = command_of(update.effective_message)
    if line is not None and line.ours:
        return check_command(
            role, line.name, line.args, chat_type=chat_type, chat_id=chat_id, allowed_groups=groups
        )
    if role is None:
        return check(None, Action.GENERAL, chat_type="", chat_id=0)
    return None


async def send_refusal(update: Update, refused: Refusal) -> None:
    """Say the refusal: a short answer to a tap, or a message in the chat."""
    await say_refusal(update, refused)


async def drop_secret(update: Update) -> bool:
    """A message (new or edited, any chat, anyone) that looks like a key is deleted at once and
    its sender told why, in one message that never repeats it. True when it was one.

    The update gate calls this before anything else reads the update; the text is never logged.
    """
    if update.callback_query is not None:
        return False
    message = update.effective_message
    if message is None:
        return False
    kind = spot(message.text or message.caption)
    if kind is None:
        return False
    try:
        deleted = bool(await message.delete())
    except TelegramError as exc:  # a group where the bot may not delete: the user must
        log.warning("could not delete a message that looked like a key: %s", exc.message)
        deleted = False
    user = update.effective_user
    log.warning(
        "a message that looked like %s from user id=%s in chat %s was %s",
        kind,
        user.id if user else None,
        message.chat_id,
        "deleted" if deleted else "left (no right to delete it)",
    )
    await message.chat.send_message(secret_removed(kind, deleted), parse_mode=ParseMode.HTML)
    return True
