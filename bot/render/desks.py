"""Desks in the chat: /desk, invitations, joining, the key form's button, keys wiped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.desks.model import Desk, Invite, Membership, StartKind
from bot.render.common import esc
from bot.services.access import Role, describe

#: Callback data: switch the active desk to the one named after it.
USE_PREFIX = "desk:use:"
#: Switch buttons under /desk at most (Telegram takes 100 buttons a message); the rest are
#: listed with their ids for ``/desk <id>``.
SWITCH_BUTTONS = 90
#: What each venue's key form asks for, as the button says it.
VENUE_NAMES = {"backpack": "Backpack", "hyperliquid": "Hyperliquid"}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def desk_view(
    active: Membership,
    others: Sequence[Membership],
    *,
    mode: str,
    keys: Mapping[str, str],
    members: Mapping[int, Role] | None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The active desk, what it trades on, and a button per other desk of the user's.

    ``keys`` is venue → hint of the connected keys; ``members`` is shown to owners only.
    """
    desk = active.desk
    lines = [
        f"🗂 <b>{esc(desk.name)}</b> <code>{esc(desk.id)}</code>",
        f"Your role: <b>{active.role}</b> — {esc(describe(active.role))}.",
        f"Trading: <b>{'paper' if mode == 'paper' else 'live'}</b>.",
    ]
    if desk.operator and mode != "paper":  # it trades the environment's keys, never stored ones
        lines.append("Keys: the bot's own, from its settings (its operator changes them there).")
    else:
        for venue, name in VENUE_NAMES.items():
            hint = keys.get(venue)
            state = f"connected (key {esc(hint)})" if hint else "not connected"
            lines.append(f"{name} keys: {state}.")
    if desk.revoked:
        lines.append(
            f"⚠️ The exchange refused this desk's {esc(desk.revoked_venue or '')} keys "
            "— /connect them again."
        )
    if members is not None:
        listed = ", ".join(f"<code>{uid}</code> {role}" for uid, role in sorted(members.items()))
        lines.append(f"Members: {listed}.")
    if others:
        lines.append("Your other desks are below; a tap makes one active.")
    shown, rest = others[:SWITCH_BUTTONS], others[SWITCH_BUTTONS:]
    if rest:
        lines.append(f"And {len(rest)} more; <code>/desk &lt;id&gt;</code> switches to one:")
        lines.extend(f"· {esc(m.desk.name)} ({m.role}) <code>{esc(m.desk.id)}</code>" for m in rest)
    rows = [
        [
            InlineKeyboardButton(
                f"Switch to {m.desk.name} ({m.role})", callback_data=USE_PREFIX + m.desk.id
            )
        ]
        for m in shown
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def desk_usage() -> str:
    return (
        "Usage: <code>/desk</code>, or <code>/desk &lt;id&gt;</code> to switch to one of your "
        "desks."
    )


def switched(member: Membership) -> str:
    return (
        f"🗂 Now on <b>{esc(member.desk.name)}</b> as {member.role}: every command acts on this "
        "desk; buttons under earlier messages still act on the desk they came from."
    )


def joined(member: Membership, kind: StartKind) -> str:
    """The first line of the welcome when /start just made the user a member (or opened an
    invite into a desk they were already on: their role stays, the link stays unused)."""
    if kind == "already":
        return (
            f"🗂 You are already on <b>{esc(member.desk.name)}</b> as {member.role}, now your "
            "active desk; that invite link was not used up, so someone else can still open it."
        )
    if kind == "created":
        return (
            f"🗂 Your desk <b>{esc(member.desk.name)}</b> is open, on paper. "
            "On a live bot, /connect backpack puts it on your own keys."
        )
    return f"🗂 You joined <b>{esc(member.desk.name)}</b> as {member.role}."


#: What an invited member may do, said to the owner who invites them.
GRANTS: dict[Role, str] = {
    "viewer": "A viewer sees market data and the account (read only) and sets their own alerts.",
    "trader": (
        "A trader trades too, but cannot change the strategy's mode or settings, the members "
        "or the keys."
    ),
    "owner": "An owner may do everything.",
}


def invite(link: str, role: Role, expires_at_ms: int) -> str:
    """The link on its own line (a tap or a long press copies it), what the role grants, and
    that it works once."""
    return (
        f"✉️ Invitation as <b>{role}</b>, for one person, until {_when(expires_at_ms)}:\n"
        f"{esc(link)}\n"
        f"{GRANTS[role]} Whoever opens it first joins this desk; then it stops working."
    )


def invite_usage() -> str:
    return "Usage: <code>/invite trader</code> or <code>/invite viewer</code>."


def connect_usage() -> str:
    return "Usage: <code>/connect backpack</code> or <code>/connect hyperliquid</code>."


def disconnect_usage() -> str:
    return "Usage: <code>/disconnect backpack</code> or <code>/disconnect hyperliquid</code>."


def connect_button(url: str, venue: str) -> tuple[str, InlineKeyboardMarkup]:
    name = VENUE_NAMES[venue]
    text = (
        f"🔑 Connect {name}: the form opens inside Telegram; your key goes to the bot over "
        "HTTPS and never through this chat. It is checked with one read, then sealed.\n"
        "Use a key that can trade but not withdraw, limited to the bot's IP address."
    )
    button = InlineKeyboardButton(f"🔑 Connect {name}", web_app=WebAppInfo(url))
    return text, InlineKeyboardMarkup([[button]])


def disconnected(venue: str, wiped: bool) -> str:
    name = VENUE_NAMES[venue]
    if not wiped:
        return f"No {name} keys are connected to this desk."
    return (
        f"🔌 {name} keys wiped from this desk. Positions and orders on the exchange stay "
        "as they are; the desk is back on paper until you connect keys again."
    )


def revoked(desk: Desk, venue: str) -> str:
    name = VENUE_NAMES.get(venue, venue)
    return (
        f"⚠️ {name} refused the keys of <b>{esc(desk.name)}</b> (revoked or expired). The desk "
        "places no orders until you /connect new keys; other desks are not affected."
    )


def invite_text(invite_: Invite, bot_username: str) -> str:
    return invite(invite_.link(bot_username), invite_.role, invite_.expires_at_ms)
