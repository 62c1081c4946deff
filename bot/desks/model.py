"""Desks as plain values: what a desk is, who belongs to it, an invite, and the error tree.

Pure (no I/O): the registry (:mod:`bot.desks.registry`) builds these from the database and
hands them out. Every error carries ``text``, one friendly sentence a chat can show as is; none
carries an invite code or anything secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.keyring.ring import OPERATOR_DESK
from bot.services.access import Role

#: The desk of the account configured in the environment; it always exists.
OPERATOR = OPERATOR_DESK
OPERATOR_NAME = "Operator desk"

#: Who may join: nobody beyond ``TELEGRAM_ALLOWED_USERS`` (today's behaviour), whoever an owner
#: invites, or anyone who starts the bot (they get a paper desk of their own).
Signup = Literal["closed", "invite", "open"]
SIGNUPS: tuple[Signup, ...] = ("closed", "invite", "open")

#: Longest desk name (the column is 64 characters).
NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Desk:
    """One trading account set. ``revoked_*``: the desk's keys stopped working (the venue that
    refused them, and when); cleared when the owner connects keys again."""

    id: str
    name: str
    created_by: int | None
    created_at_ms: int
    revoked_at_ms: int | None = None
    revoked_venue: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at_ms is not None

    @property
    def operator(self) -> bool:
        return self.id == OPERATOR


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's place on a desk."""

    desk: Desk
    role: Role


@dataclass(frozen=True, slots=True)
class Invite:
    """A one-time invitation. ``code`` exists only here, in the owner's chat: the database keeps
    its SHA-256. It fits Telegram's deep-link start parameter (``A-Za-z0-9_-``, ≤ 64)."""

    code: str
    desk_id: str
    role: Role
    expires_at_ms: int

    def link(self, bot_username: str) -> str:
        return f"https://t.me/{bot_username.lstrip('@')}?start={self.code}"

    def __repr__(self) -> str:  # the code is a credential: keep it out of logs and tracebacks
        return f"Invite(desk_id={self.desk_id!r}, role={self.role!r}, code=…)"


#: How ``/start`` placed the user: already a member (their active desk), joined with an invite,
#: used an invite to a desk they were already on (their role stays), or got a new desk.
StartKind = Literal["member", "joined", "already", "created"]


@dataclass(frozen=True, slots=True)
class StartOutcome:
    membership: Membership
    kind: StartKind


# ---------------------------------------------------------------------------------------- errors


class DeskError(Exception):
    """A desk operation refused; ``text`` says why in one sentence a chat can show."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotMember(DeskError):
    """The user is not on that desk (or the desk does not exist)."""

    def __init__(self, text: str = "You are not a member of that desk.") -> None:
        super().__init__(text)


class NotOwner(DeskError):
    """Only the desk's owner may do this."""

    def __init__(self, text: str = "Only the desk's owner can do that.") -> None:
        super().__init__(text)


class DeskLimit(DeskError):
    """``MAX_DESKS`` reached."""

    def __init__(
        self, text: str = "This bot has as many desks as its operator allows; no new desk now."
    ) -> None:
        super().__init__(text)


class SignupClosed(DeskError):
    """``SIGNUP=closed``: nobody joins beyond the operator's list."""

    def __init__(
        self,
        text: str = "This bot is closed to new members: its operator has to add you.",
    ) -> None:
        super().__init__(text)


InviteReason = Literal["unknown", "used", "expired"]

_INVITE_TEXT: dict[InviteReason, str] = {
    "unknown": "That invite link is not valid; ask the desk's owner for a new one.",
    "used": "That invite link has already been used; ask the desk's owner for a new one.",
    "expired": "That invite link has expired; ask the desk's owner for a new one.",
}


class InviteError(DeskError):
    """An invite code that cannot be redeemed, and why."""

    def __init__(self, reason: InviteReason) -> None:
        super().__init__(_INVITE_TEXT[reason])
        self.reason: InviteReason = reason
