"""Who belongs to which desk: the one :class:`Desks` per process.

Everything is cached in memory by :meth:`Desks.load` (thousands of rows at most), so the update
gate answers "which desk, which role" without a query; every change goes to the database first
and then to the cache. The operator desk always exists: its members are the environment's
``TELEGRAM_ALLOWED_USERS`` with their roles (never stored, and never overridden by a stored row)
plus whoever was invited into it (stored).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping

from bot.clock import Clock, now_ms
from bot.desks.model import (
    NAME_MAX,
    OPERATOR,
    OPERATOR_NAME,
    Desk,
    DeskError,
    DeskLimit,
    Invite,
    InviteError,
    Membership,
    NotMember,
    NotOwner,
    Signup,
    SignupClosed,
    StartOutcome,
)
from bot.services.access import Role
from bot.storage.db import Database
from bot.storage.desks import DeskStore, Member

#: What an invite code may look like: Telegram's deep-link alphabet and length limit.
_CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def code_hash(code: str) -> str:
    """What the database keeps of an invite code."""
    return hashlib.sha256(code.encode()).hexdigest()


def clean_name(name: str) -> str:
    """A desk name as shown: printable, single-spaced, at most :data:`NAME_MAX` characters,
    and with no ``/`` (a chat client makes ``/word`` a tappable command: a name "/disconnect"
    must not put one in the messages that show it)."""
    text = "".join(c for c in name.replace("/", "∕") if c.isprintable())
    return " ".join(text.split())[:NAME_MAX].strip()


def own_desk_name(first_name: str) -> str:
    """The name of the desk ``/start`` makes for a newcomer: "Ada's desk"."""
    first = clean_name(first_name)[: NAME_MAX - len("'s desk")].strip()
    return f"{first}'s desk" if first else "My desk"


def _operator_desk(stored: Desk | None) -> Desk:
    if stored is None:
        return Desk(OPERATOR, OPERATOR_NAME, None, 0)
    return Desk(
        OPERATOR,
        OPERATOR_NAME,
        None,
        stored.created_at_ms,
        stored.revoked_at_ms,
        stored.revoked_venue,
    )


class Desks:
    """The desks, their members and each user's active desk (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        operator_roles: Mapping[int, Role],
        signup: Signup,
        max_desks: int,
        invite_ttl_seconds: int,
    ) -> None:
        self._store = DeskStore(db)
        self._clock = clock
        self._operator_roles = dict(operator_roles)
        self.signup: Signup = signup
        self.max_desks = max_desks
        self.invite_ttl_seconds = invite_ttl_seconds
        self._desks: dict[str, Desk] = {OPERATOR: _operator_desk(None)}
        self._by_desk: dict[str, dict[int, Member]] = {}
        self._by_user: dict[int, dict[str, Member]] = {}
        self._choice: dict[int, str] = {}

    # ------------------------------------------------------------------------------ loading

    async def load(self) -> None:
        """Read every desk, member and choice into memory."""
        snap = await self._store.snapshot()
        desks = {d.id: d for d in snap.desks}
        desks[OPERATOR] = _operator_desk(desks.get(OPERATOR))
        by_desk: dict[str, dict[int, Member]] = {}
        by_user: dict[int, dict[str, Member]] = {}
        for m in snap.members:
            by_desk.setdefault(m.desk_id, {})[m.user_id] = m
            by_user.setdefault(m.user_id, {})[m.desk_id] = m
        self._desks, self._by_desk, self._by_user = desks, by_desk, by_user
        self._choice = dict(snap.choices)

    async def reload(self) -> None:
        """Read everything again (another process may have changed it)."""
        await self.load()

    # ------------------------------------------------------------------------------ reads

    def get(self, desk_id: str) -> Desk | None:
        return self._desks.get(desk_id)

    def all(self) -> list[Desk]:
        """Every desk, the operator's first, then by creation."""
        rest = sorted(
            (d for d in self._desks.values() if d.id != OPERATOR),
            key=lambda d: (d.created_at_ms, d.id),
        )
        return [self._desks[OPERATOR], *rest]

    def role(self, desk_id: str, user_id: int) -> Role | None:
        if desk_id == OPERATOR and user_id in self._operator_roles:
            return self._operator_roles[user_id]
        if desk_id not in self._desks:
            return None
        m = self._by_desk.get(desk_id, {}).get(user_id)
        return None if m is None else m.role

    def members(self, desk_id: str) -> dict[int, Role]:
        if desk_id not in self._desks:
            return {}
        roles = {u: m.role for u, m in self._by_desk.get(desk_id, {}).items()}
        if desk_id == OPERATOR:
            roles.update(self._operator_roles)
        return roles

    def memberships(self, user_id: int) -> list[Membership]:
        """The user's desks: the operator's first when they are on it, then in joining order."""
        out: list[Membership] = []
        operator_role = self.role(OPERATOR, user_id)
        if operator_role is not None:
            out.append(Membership(self._desks[OPERATOR], operator_role))
        rest = sorted(
            (
                m
                for d, m in self._by_user.get(user_id, {}).items()
                if d != OPERATOR and d in self._desks
            ),
            key=lambda m: (m.joined_at_ms, m.desk_id),
        )
        out.extend(Membership(self._desks[m.desk_id], m.role) for m in rest)
        return out

    def active(self, user_id: int) -> Membership | None:
        """The desk the user's commands act on: the one they chose while they are on it, else
        the operator desk if they are on it, else the first desk they joined."""
        chosen = self._choice.get(user_id)
        if chosen is not None:
            role = self.role(chosen, user_id)
            if role is not None:
                return Membership(self._desks[chosen], role)
        mine = self.memberships(user_id)
        return mine[0] if mine else None

    def full(self) -> bool:
        """``MAX_DESKS`` desks (besides the operator's) exist: ``/start`` opens no new one."""
        return len(self._desks) - 1 >= self.max_desks

    def is_known(self, user_id: int) -> bool:
        return self.active(user_id) is not None

    # ------------------------------------------------------------------------------ writes

    async def choose(self, user_id: int, desk_id: str) -> Membership:
        """Make ``desk_id`` the user's active desk (``/desk``)."""
        role = self.role(desk_id, user_id)
        if role is None:
            raise NotMember()
        await self._store.set_choice(user_id, desk_id)
        self._choice[user_id] = desk_id
        return Membership(self._desks[desk_id], role)

    async def create(self, owner_id: int, name: str) -> Membership:
        """A new (paper) desk owned by ``owner_id``, which becomes their active desk."""
        shown = clean_name(name)
        if not shown:
            raise DeskError("A desk needs a name, e.g. “Ada's desk”.")
        now = now_ms(self._clock)
        desk = Desk("d" + secrets.token_hex(6), shown, owner_id, now)
        member = await self._store.create(desk, owner_id, max_desks=self.max_desks, now_ms=now)
        if member is None:
            raise DeskLimit()
        self._desks[desk.id] = desk
        self._add(member)
        self._choice[owner_id] = desk.id
        return Membership(desk, "owner")

    async def invite(self, desk_id: str, by_user: int, role: Role) -> Invite:
        """A one-time link into ``desk_id`` with ``role``; only the desk's owner may make one."""
        if self.signup == "closed":
            raise SignupClosed(
                "Invites are turned off on this bot: its operator set SIGNUP=closed."
            )
        by_role = self.role(desk_id, by_user)
        if by_role is None:
            raise NotMember()
        if by_role != "owner":
            raise NotOwner("Only the desk's owner can invite people.")
        if role == "owner":
            raise DeskError("Invite people as trader or viewer; an invite link cannot make owners.")
        code = secrets.token_urlsafe(16)  # 22 characters of A-Za-z0-9_-
        now = now_ms(self._clock)
        expires = now + self.invite_ttl_seconds * 1000
        await self._store.add_invite(
            code_hash(code), desk_id, role, created_by=by_user, now_ms=now, expires_at_ms=expires
        )
        return Invite(code, desk_id, role, expires)

    async def redeem(self, code: str, user_id: int) -> Membership:
        """Join the desk the code invites to (once, before it expires). A user already on that
        desk keeps the role they have, and the code stays unspent."""
        membership, _already = await self._redeem(code, user_id)
        return membership

    async def _redeem(self, code: str, user_id: int) -> tuple[Membership, bool]:
        if self.signup == "closed":
            raise SignupClosed()
        if not _CODE.fullmatch(code):
            raise InviteError("unknown")
        hashed = code_hash(code)
        now = now_ms(self._clock)
        pending = await self._store.invite(hashed)
        if pending is None or pending.desk_id not in self._desks:
            raise InviteError("unknown")
        if pending.used:
            raise InviteError("used")
        if pending.expires_at_ms <= now:
            raise InviteError("expired")
        have = self.role(pending.desk_id, user_id)
        if have is not None:  # opening a link into one's own desk makes it active
            return await self.choose(user_id, pending.desk_id), True
        result = await self._store.redeem(hashed, user_id, now_ms=now)
        if isinstance(result, str):
            raise InviteError(result)
        self._add(result)
        self._choice[user_id] = result.desk_id
        return Membership(self._desks[result.desk_id], result.role), False

    async def start(
        self, user_id: int, code: str | None, first_name: str = ""
    ) -> StartOutcome | None:
        """The ``/start`` rule: a code joins its desk; a known user gets their active desk; with
        ``SIGNUP=open`` a newcomer gets a paper desk of their own; anyone else gets None (the
        bot does not serve them). Raises :class:`InviteError`, :class:`SignupClosed` or
        :class:`DeskLimit` with the sentence to show."""
        if code:
            membership, already = await self._redeem(code, user_id)
            return StartOutcome(membership, "already" if already else "joined")
        mine = self.active(user_id)
        if mine is not None:
            return StartOutcome(mine, "member")
        if self.signup == "open":
            return StartOutcome(await self.create(user_id, own_desk_name(first_name)), "created")
        return None

    async def leave(self, desk_id: str, user_id: int) -> None:
        """Take oneself off a desk; its last owner cannot."""
        role = self.role(desk_id, user_id)
        if role is None:
            raise NotMember()
        self._check_removable(desk_id, user_id, role, self_=True)
        await self._store.remove_member(desk_id, user_id)
        self._drop(desk_id, user_id)

    async def remove_member(self, desk_id: str, by_user: int, user_id: int) -> Role:
        """The owner takes someone off the desk; returns the role they had."""
        by_role = self.role(desk_id, by_user)
        if by_role is None:
            raise NotMember()
        if by_role != "owner":
            raise NotOwner("Only the desk's owner can remove members.")
        role = self.role(desk_id, user_id)
        if role is None:
            raise NotMember("That user is not a member of this desk.")
        self._check_removable(desk_id, user_id, role, self_=user_id == by_user)
        await self._store.remove_member(desk_id, user_id)
        self._drop(desk_id, user_id)
        return role

    async def mark_revoked(self, desk_id: str, venue: str) -> bool:
        """Mark the desk's keys as refused by ``venue``; True only the first time, so its owner
        is told once."""
        if desk_id not in self._desks:
            return False
        marked = await self._store.mark_revoked(desk_id, venue, now_ms=now_ms(self._clock))
        await self._refresh(desk_id)
        return marked

    async def clear_revoked(self, desk_id: str) -> None:
        """The desk's keys work again (new keys connected)."""
        if desk_id not in self._desks:
            return
        await self._store.clear_revoked(desk_id)
        await self._refresh(desk_id)

    # ------------------------------------------------------------------------------ internals

    def _check_removable(self, desk_id: str, user_id: int, role: Role, *, self_: bool) -> None:
        if desk_id == OPERATOR and user_id in self._operator_roles:
            raise DeskError(
                "Membership of the operator desk from TELEGRAM_ALLOWED_USERS is changed by the "
                "operator, in the bot's settings."
            )
        owners = [u for u, r in self.members(desk_id).items() if r == "owner"]
        if role == "owner" and owners == [user_id]:
            who = "You are" if self_ else "They are"
            raise DeskError(
                f"{who} this desk's last owner, so the desk would have nobody to run it."
            )

    def _add(self, m: Member) -> None:
        self._by_desk.setdefault(m.desk_id, {})[m.user_id] = m
        self._by_user.setdefault(m.user_id, {})[m.desk_id] = m

    def _drop(self, desk_id: str, user_id: int) -> None:
        self._by_desk.get(desk_id, {}).pop(user_id, None)
        self._by_user.get(user_id, {}).pop(desk_id, None)
        if self._choice.get(user_id) == desk_id:
            del self._choice[user_id]

    async def _refresh(self, desk_id: str) -> None:
        stored = await self._store.desk(desk_id)
        if desk_id == OPERATOR:
            self._desks[OPERATOR] = _operator_desk(stored)
        elif stored is not None:
            self._desks[desk_id] = stored
