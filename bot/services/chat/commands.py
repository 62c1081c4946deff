"""The one reading of a command — Telegram's and python-telegram-bot's — as a pure function.

Telegram marks a command with a ``bot_command`` entity: ``/`` and letters, digits or ``_``,
an optional ``@botname``, ending at the first other character. python-telegram-bot's
``CommandHandler`` runs a handler only for that entity at offset 0, takes the name from it and
the arguments from ``text.split()[1:]``. So ``/cancel, all`` *is* ``/cancel`` with the argument
``all``, and ``/balance.`` is ``/balance``. The update gate, edited messages, group rules,
roles and the fallback's suggestions all read a message through :func:`read_command`, so none
of them can disagree with the handler that will run.

Entities come as plain ``(type, offset, length)`` values (no Telegram types here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Telegram's entity type for ``/command`` or ``/command@botname``.
BOT_COMMAND = "bot_command"


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A command as the handler that runs it sees it.

    ``name`` is lower-case, without ``/`` and ``@botname``; ``mention`` is the ``@botname``
    typed (``None`` without one); ``ours`` is False when it names another bot, whose command
    no handler of ours runs.
    """

    name: str
    args: tuple[str, ...]
    mention: str | None
    ours: bool

    @property
    def shown(self) -> str:
        """``/name`` as typed, without the bot's name (for replies)."""
        return f"/{self.name}"


def read_command(
    text: str | None,
    entities: Iterable[tuple[str, int, int]],
    bot_username: str | None = None,
) -> CommandLine | None:
    """The command in a message, read as python-telegram-bot's ``CommandHandler`` reads it.

    ``None`` when the message does not start with a ``bot_command`` entity (free text, or a
    ``/`` that Telegram did not mark, such as ``/-1``). A ``@mention`` is ours when it equals
    ``bot_username`` (case-insensitively) or when the bot's name is unknown.
    """
    if not text:
        return None
    first = next(((kind, offset, length) for kind, offset, length in entities), None)
    if first is None:
        return None
    kind, offset, length = first
    if kind != BOT_COMMAND or offset != 0 or length < 2:
        return None
    # The entity is ASCII (letters, digits, _ and @), so UTF-16 units equal characters here.
    command = text[1:length]
    name, _, mention = command.partition("@")
    if not name:
        return None
    ours = not mention or bot_username is None or mention.lower() == bot_username.lower()
    return CommandLine(
        name=name.lower(),
        args=tuple(text.split()[1:]),
        mention=mention or None,
        ours=ours,
    )
