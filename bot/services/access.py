"""Who may do what, and where: roles and group-chat rules as pure functions (no Telegram types).

Roles (``TELEGRAM_ALLOWED_USERS=1001:owner,1002,1003:viewer``):

* ``viewer`` — market data, the account read-only (/positions, /orders, /balance, /pnl …) and
  their own alerts; never an order, a cancel, a close, a confirmation or a strategy change;
* ``trader`` (the default) — everything but the strategy's mode and settings;
* ``owner`` — everything.

Group chats: market commands work anywhere; account data and trading are refused in a group
("use a private chat with me") unless the group's id is in ``TELEGRAM_ALLOWED_GROUPS``.

The update gate asks :func:`check_command` / :func:`check_callback` with the user's role and the
chat (the command read by :func:`bot.services.chat.commands.read_command`, as the handler reads it);
a :class:`Refusal` carries the sentence to send (or to show as a callback answer). The services
check again: each operation that changes or shows the account takes an :class:`Actor` and calls
:meth:`Actor.require`, which raises :class:`Refused` — the same table, the second line.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

from bot.services.chat.commands import CommandLine

Role = Literal["owner", "trader", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
DEFAULT_ROLE: Role = "trader"


class Action(StrEnum):
    """What a command or a button does, as far as permissions go."""

    GENERAL = "general"  # /start, /help, /mode, /whoami
    MARKET = "market"  # prices, funding, book, charts, backtests
    ALERTS = "alerts"  # one's own alerts and notification settings
    ACCOUNT = "account"  # balances, positions, orders, PnL, the strategy's status and trades
    TRADE = "trade"  # orders, cancels, closes, ✅ on a confirmation or a strategy proposal
    STRATEGY = "strategy"  # the strategy's mode and settings
    LOGS = "logs"  # the bot's own log lines (/logs)
    DESK = "desk"  # the desk's members, invitations and exchange keys


PERMISSIONS: dict[Role, frozenset[Action]] = {
    "viewer": frozenset({Action.GENERAL, Action.MARKET, Action.ALERTS, Action.ACCOUNT}),
    "trader": frozenset(set(Action) - {Action.STRATEGY, Action.LOGS, Action.DESK}),
    "owner": frozenset(Action),
}

#: Actions refused in a group chat (unless the group is allowed): they show or move money.
PRIVATE_ACTIONS = frozenset(
    {Action.ACCOUNT, Action.TRADE, Action.STRATEGY, Action.LOGS, Action.DESK}
)

#: Every command the bot answers, and what it does.
COMMANDS: dict[str, Action] = {
    "start": Action.GENERAL,
    "help": Action.GENERAL,
    "mode": Action.GENERAL,
    "whoami": Action.GENERAL,
    "price": Action.MARKET,
    "funding": Action.MARKET,
    "book": Action.MARKET,
    "arb": Action.MARKET,
    "chart": Action.MARKET,
    "backtest": Action.MARKET,
    "alert": Action.ALERTS,
    "alerts": Action.ALERTS,
    "notify": Action.ALERTS,
    "positions": Action.ACCOUNT,
    "orders": Action.ACCOUNT,
    "balance": Action.ACCOUNT,
    "account": Action.ACCOUNT,
    "pnl": Action.ACCOUNT,
    "trades": Action.ACCOUNT,
    "strategy": Action.ACCOUNT,  # bare /strategy shows status; see command_action
    "buy": Action.TRADE,
    "sell": Action.TRADE,
    "close": Action.TRADE,
    "cancel": Action.TRADE,
    "sl": Action.TRADE,  # stop-loss: traders and owners
    "tp": Action.TRADE,  # take-profit
    "dashboard": Action.ACCOUNT,  # the Mini App: the account's numbers (its API checks roles)
    "daily": Action.ACCOUNT,
    "weekly": Action.ACCOUNT,
    "monthly": Action.ACCOUNT,
    "stats": Action.ACCOUNT,
    "version": Action.GENERAL,
    "pause": Action.STRATEGY,  # no new strategy entries
    "resume": Action.STRATEGY,
    "health": Action.ACCOUNT,
    "logs": Action.LOGS,  # owners only
    # one's own desks: which is active, its members and key hints (private chat), switching
    "desk": Action.ACCOUNT,
    "invite": Action.DESK,  # a one-time link that makes someone a member
    "connect": Action.DESK,  # the key form (owners, private chat)
    "disconnect": Action.DESK,  # wipe the desk's keys
}

#: Callback-data prefixes of every inline button, and what a tap does.
CALLBACKS: dict[str, Action] = {
    "tc:": Action.TRADE,  # ✅ Confirm an order
    "tx:": Action.TRADE,  # ❌ Cancel a preview (harmless, but only traders have previews)
    "close:": Action.TRADE,  # Close under /positions
    "cxl:": Action.TRADE,  # Cancel under /orders, 🗑 SL/TP under /positions
    "stg:ok:": Action.TRADE,  # ✅ Execute a strategy proposal
    "stg:no:": Action.TRADE,
    "al:": Action.ALERTS,  # alert buttons (🗑, mute, price, funding)
    "arb:open:": Action.TRADE,  # Open under /arb: a cross proposal (then ✅ / ❌)
    "stg:view:": Action.ACCOUNT,  # Settings / All candidates under /strategy (read only)
    "stg:mode:": Action.STRATEGY,  # the mode buttons under /strategy
    "start:": Action.GENERAL,  # the buttons under /start (each checks its own right)
    "desk:use:": Action.GENERAL,  # switch to another of one's desks (membership checked)
}
#: ``/strategy <view>`` only reads, like ``/strategy`` alone.
STRATEGY_VIEWS = frozenset({"config", "candidates"})

_ROLE_TEXT: dict[Role, str] = {
    "viewer": "market data, the account (read only) and your own alerts",
    "trader": "everything except the strategy's mode and settings, members and keys",
    "owner": "everything",
}
#: What each role may do, as the subject of a sentence (for refusals).
_ROLE_SENTENCE: dict[Role, str] = {
    "viewer": "Viewers can see market data, the account and their own alerts",
    "trader": (
        "Traders can do everything except change the strategy's mode and settings, "
        "the desk's members and its keys"
    ),
    "owner": "Owners can do everything",
}
_ACTION_TEXT: dict[Action, str] = {
    Action.GENERAL: "use the bot",
    Action.MARKET: "see market data",
    Action.ALERTS: "set alerts",
    Action.ACCOUNT: "see the account",
    Action.TRADE: "trade",
    Action.STRATEGY: "change the strategy's mode or settings",
    Action.LOGS: "read the bot's log",
    Action.DESK: "invite members or connect the desk's keys",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an update is refused: ``text`` for a chat message, ``short`` for a button's answer."""

    text: str
    short: str


def may(role: Role, action: Action) -> bool:
    """Whether ``role`` may do ``action`` (anywhere; see :func:`allowed_here` for groups)."""
    return action in PERMISSIONS[role]


def trade_notices(role: Role | None, choice: bool | None) -> bool:
    """Whether a user hears about the shared account's fills and the strategy's trades.

    The user's own ``/notify`` choice wins; without one, those who may trade (owners and
    traders) hear them and viewers do not.
    """
    if choice is not None:
        return choice
    return role is not None and may(role, Action.TRADE)


def least_role(action: Action) -> Role:
    """The smallest role that may do ``action`` (what to ask the owner for)."""
    return next(role for role in reversed(ROLES) if may(role, action))


def _ask(action: Action) -> str:
    needed = least_role(action)
    if needed == "owner":
        return f"only an owner of this desk can {_ACTION_TEXT[action]}."
    return f"to {_ACTION_TEXT[action]}, ask the desk's owner for the {needed} role."


def describe(role: Role) -> str:
    """What a role may do, in words (for /whoami)."""
    return _ROLE_TEXT[role]


def command_action(command: str, args: Collection[str] = ()) -> Action | None:
    """What ``/command args`` does; ``None`` for a command the bot does not have.

    ``/strategy`` alone shows the status (account data); with arguments it changes the mode or
    a setting.
    """
    name = command.lstrip("/").split("@", 1)[0].lower()
    action = COMMANDS.get(name)
    if name == "strategy" and args and next(iter(args)).lower() not in STRATEGY_VIEWS:
        return Action.STRATEGY
    return action


#: What an *edited* command may still do: only read. An edit never previews, confirms, cancels
#: or changes anything (alerts and notification settings included).
READ_ACTIONS = frozenset({Action.GENERAL, Action.MARKET, Action.ACCOUNT})


def line_action(line: CommandLine | None) -> Action | None:
    """What a command read by :func:`bot.services.chat.commands.read_command` does; ``None`` for
    free text, a command for another bot, or a command the bot does not have."""
    if line is None or not line.ours:
        return None
    return command_action(line.name, line.args)


def reads_only(line: CommandLine | None) -> bool:
    """Whether the command only reads (so an edited message may run it again)."""
    return line_action(line) in READ_ACTIONS


def callback_action(data: str) -> Action | None:
    """What a tap on a button with this callback data does; ``None`` for unknown data."""
    for prefix, action in CALLBACKS.items():
        if data.startswith(prefix):
            return action
    return None


def is_group(chat_type: str) -> bool:
    return chat_type in ("group", "supergroup", "channel")


def allowed_here(
    action: Action, *, chat_type: str, chat_id: int, allowed_groups: Collection[int] = ()
) -> bool:
    """Whether ``action`` may happen in this chat: private chats always; groups for market
    commands and alerts, or for everything when the group is in ``allowed_groups``."""
    if not is_group(chat_type) or action not in PRIVATE_ACTIONS:
        return True
    return chat_id in allowed_groups


def check(
    role: Role | None,
    action: Action,
    *,
    chat_type: str,
    chat_id: int,
    allowed_groups: Collection[int] = (),
) -> Refusal | None:
    """``None`` when ``role`` may do ``action`` in this chat, else the :class:`Refusal`."""
    if role is None:
        return Refusal(
            "Sorry, this is a private trading bot and you are not on its list of users.",
            "This bot is private.",
        )
    if not may(role, action):
        return Refusal(
            f"🔒 Your role is <b>{role}</b>. {_ROLE_SENTENCE[role]}; {_ask(action)}",
            f"Your role ({role}) may not {_ACTION_TEXT[action]}.",
        )
    if not allowed_here(
        action, chat_type=chat_type, chat_id=chat_id, allowed_groups=allowed_groups
    ):
        return Refusal(
            "🔒 Account data and trading stay out of this group: use a private chat with me.",
            "Use a private chat with me for this.",
        )
    return None


def check_command(
    role: Role | None,
    command: str,
    args: Collection[str] = (),
    *,
    chat_type: str,
    chat_id: int,
    allowed_groups: Collection[int] = (),
) -> Refusal | None:
    """:func:`check` for a typed command; unknown commands are not refused here (the fallback
    handler answers them)."""
    action = command_action(command, args)
    if action is None:
        return None if role is not None else check(None, Action.GENERAL, chat_type="", chat_id=0)
    return check(role, action, chat_type=chat_type, chat_id=chat_id, allowed_groups=allowed_groups)


def check_callback(
    role: Role | None,
    data: str,
    *,
    chat_type: str,
    chat_id: int,
    allowed_groups: Collection[int] = (),
) -> Refusal | None:
    """:func:`check` for a button tap; unknown callback data is left to the handlers' answer
    ("This button is no longer valid")."""
    action = callback_action(data)
    if action is None:
        return None if role is not None else check(None, Action.GENERAL, chat_type="", chat_id=0)
    return check(role, action, chat_type=chat_type, chat_id=chat_id, allowed_groups=allowed_groups)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks a service to act, and where: the second line of defence after the update gate.

    Every service operation that changes or shows the account takes one and calls
    :meth:`require` itself, so a command the gate misreads still cannot move or show money.
    ``chat_type`` is Telegram's (``private``, ``group``, ``supergroup``, ``channel``) or
    ``"bot"`` for the bot acting on its own (the strategy's cycle, jobs).
    """

    user_id: int
    role: Role | None
    chat_id: int
    chat_type: str = "private"
    allowed_groups: frozenset[int] = frozenset()

    @classmethod
    def bot(cls, user_id: int = 0, chat_id: int = 0) -> Actor:
        """The bot itself, on a job (for ``user_id``'s chat when it prepares something there):
        the person who started that job was checked when they did."""
        return cls(user_id, "owner", chat_id, "bot")

    def refusal(self, action: Action) -> Refusal | None:
        """``None`` when this actor may do ``action`` here, else why not."""
        return check(
            self.role,
            action,
            chat_type=self.chat_type,
            chat_id=self.chat_id,
            allowed_groups=self.allowed_groups,
        )

    def require(self, action: Action) -> None:
        """Raise :class:`Refused` unless this actor may do ``action`` here."""
        refused = self.refusal(action)
        if refused is not None:
            raise Refused(self, action, refused)


class Refused(Exception):
    """A service refused an action for its actor (role or chat); ``refusal`` has the words.

    Handlers render it like the gate's refusal: a message, or a button's answer.
    """

    def __init__(self, actor: Actor, action: Action, refusal: Refusal) -> None:
        super().__init__(refusal.short)
        self.actor = actor
        self.action = action
        self.refusal = refusal


def parse_users(text: str) -> dict[int, Role]:
    """``"1001:owner, 1002, 1003:viewer"`` → ``{1001: "owner", 1002: "trader", 1003: "viewer"}``.

    Items are separated by commas or semicolons; a role is optional (default ``trader``). When
    no item names a role at all (the old form, ``123`` or ``123,456``), the first user listed is
    the owner, so a bot configured before roles existed keeps a user with every right it had.
    Raises ``ValueError`` with a message that says which item is wrong.
    """
    roles: dict[int, Role] = {}
    any_role = False
    for raw in text.replace(";", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        uid_text, _, role_text = item.partition(":")
        uid_text, role_text = uid_text.strip(), role_text.strip().lower()
        try:
            uid = int(uid_text)
        except ValueError:
            raise ValueError(
                f"TELEGRAM_ALLOWED_USERS: {uid_text!r} is not a numeric Telegram user id; "
                "write id[:role] items separated by commas, e.g. 123456789:owner,987654321"
            ) from None
        any_role = any_role or bool(role_text)
        role = role_text or DEFAULT_ROLE
        if role not in ROLES:
            raise ValueError(
                f"TELEGRAM_ALLOWED_USERS: unknown role {role_text!r} for {uid}; "
                f"roles are {', '.join(ROLES)}"
            )
        if uid in roles:
            raise ValueError(f"TELEGRAM_ALLOWED_USERS: user {uid} is listed twice")
        roles[uid] = role
    return roles if any_role else with_default_owner(roles)


def with_default_owner(roles: dict[int, Role]) -> dict[int, Role]:
    """The first user becomes the owner when nobody is (the pre-roles form of the setting)."""
    if roles and "owner" not in roles.values():
        first = next(iter(roles))
        roles = {**roles, first: "owner"}
    return roles
