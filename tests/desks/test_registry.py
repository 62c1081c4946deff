"""The desk registry over a real database: memberships, active desks, creating, inviting,
redeeming (single use, expiry, races), leaving, revocation, and a reload giving the same state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.clock import FakeClock
from bot.desks.model import (
    OPERATOR,
    DeskError,
    DeskLimit,
    InviteError,
    NotMember,
    NotOwner,
    Signup,
    SignupClosed,
)
from bot.desks.registry import Desks, code_hash
from bot.services.access import Role
from bot.storage.db import Database

OWNER, TRADER, VIEWER = 1001, 1002, 1003
OPERATOR_ROLES: dict[int, Role] = {OWNER: "owner", TRADER: "trader", VIEWER: "viewer"}
ADA, BOB, CY = 2001, 2002, 2003


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await database.start()
    yield database
    await database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _desks(
    db: Database, clock: FakeClock, *, signup: Signup = "invite", max_desks: int = 10
) -> Desks:
    desks = Desks(
        db,
        clock,
        operator_roles=OPERATOR_ROLES,
        signup=signup,
        max_desks=max_desks,
        invite_ttl_seconds=3600,
    )
    await desks.load()
    return desks


def _state(desks: Desks, users: list[int]) -> object:
    return (
        desks.all(),
        {d.id: desks.members(d.id) for d in desks.all()},
        {u: (desks.active(u), desks.memberships(u)) for u in users},
    )


async def test_the_operator_desk_holds_the_allowed_users_with_their_roles(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    operator = desks.get(OPERATOR)
    assert operator is not None and operator.name == "Operator desk" and not operator.revoked
    assert desks.members(OPERATOR) == OPERATOR_ROLES
    assert desks.role(OPERATOR, VIEWER) == "viewer" and desks.role(OPERATOR, ADA) is None
    active = desks.active(TRADER)
    assert active is not None and (active.desk.id, active.role) == (OPERATOR, "trader")
    assert desks.is_known(OWNER) and not desks.is_known(ADA)
    assert desks.active(ADA) is None and desks.memberships(ADA) == []
    assert [d.id for d in desks.all()] == [OPERATOR]


async def test_create_makes_an_owned_desk_active_and_memberships_list_the_operators_first(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    mine = await desks.create(OWNER, "  Side   book ")
    assert mine.role == "owner" and mine.desk.name == "Side book"
    assert mine.desk.id.startswith("d") and len(mine.desk.id) == 13
    assert desks.active(OWNER) == mine
    assert [m.desk.id for m in desks.memberships(OWNER)] == [OPERATOR, mine.desk.id]
    back = await desks.choose(OWNER, OPERATOR)
    assert back.desk.id == OPERATOR and desks.active(OWNER) == back
    with pytest.raises(NotMember):
        await desks.choose(TRADER, mine.desk.id)
    with pytest.raises(DeskError, match="needs a name"):
        await desks.create(ADA, " \n ")


async def test_max_desks_counts_desks_besides_the_operators(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock, max_desks=2)
    await desks.create(ADA, "one")
    await desks.create(BOB, "two")
    with pytest.raises(DeskLimit) as refused:
        await desks.create(CY, "three")
    assert "desks" in refused.value.text
    assert len(desks.all()) == 3 and desks.active(CY) is None


async def test_an_invite_joins_once_with_its_role_and_becomes_the_active_desk(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    ada = await desks.create(ADA, "Ada's desk")
    invite = await desks.invite(ada.desk.id, ADA, "viewer")
    assert invite.link("@backpack_bot") == f"https://t.me/backpack_bot?start={invite.code}"
    assert invite.code not in repr(invite)
    joined = await desks.redeem(invite.code, BOB)
    assert (joined.desk.id, joined.role) == (ada.desk.id, "viewer")
    assert desks.role(ada.desk.id, BOB) == "viewer" and desks.active(BOB) == joined
    with pytest.raises(InviteError) as used:
        await desks.redeem(invite.code, CY)
    assert used.value.reason == "used" and "already been used" in used.value.text
    assert desks.role(ada.desk.id, CY) is None


async def test_unknown_and_expired_codes_say_so(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    ada = await desks.create(ADA, "Ada's desk")
    invite = await desks.invite(ada.desk.id, ADA, "trader")
    for code in ("x" * 22, "short", "not a code at all!", invite.code[:-1] + "?"):
        with pytest.raises(InviteError) as unknown:
            await desks.redeem(code, BOB)
        assert unknown.value.reason == "unknown", code
    clock.advance(3600)
    with pytest.raises(InviteError) as expired:
        await desks.redeem(invite.code, BOB)
    assert expired.value.reason == "expired" and "expired" in expired.value.text
    assert desks.role(ada.desk.id, BOB) is None


async def test_codes_fit_a_telegram_start_parameter_and_only_their_hash_is_stored(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    codes = [(await desks.invite(OPERATOR, OWNER, "trader")).code for _ in range(5)]
    assert len(set(codes)) == 5
    for code in codes:
        assert 16 <= len(code) <= 64 and all(c.isalnum() or c in "_-" for c in code)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM desk_invites"))).all()
    dumped = repr(rows)
    assert len(rows) == 5
    assert all(code not in dumped for code in codes)
    assert {r.code_hash for r in rows} == {code_hash(c) for c in codes}


async def test_only_the_owner_invites_and_never_as_owner(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    for user in (TRADER, VIEWER):
        with pytest.raises(NotOwner) as refused:
            await desks.invite(OPERATOR, user, "viewer")
        assert "owner" in refused.value.text
    with pytest.raises(NotMember):
        await desks.invite(OPERATOR, ADA, "viewer")
    with pytest.raises(DeskError, match="trader or viewer"):
        await desks.invite(OPERATOR, OWNER, "owner")


async def test_signup_closed_refuses_invites_and_redeeming(db: Database, clock: FakeClock) -> None:
    open_desks = await _desks(db, clock)
    invite = await open_desks.invite(OPERATOR, OWNER, "trader")
    closed = await _desks(db, clock, signup="closed")
    with pytest.raises(SignupClosed) as refused:
        await closed.invite(OPERATOR, OWNER, "trader")
    assert "SIGNUP=closed" in refused.value.text
    with pytest.raises(SignupClosed):
        await closed.redeem(invite.code, ADA)
    assert await closed.start(ADA, None, "Ada") is None
    assert closed.role(OPERATOR, ADA) is None


async def test_start_rule(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock, signup="open")
    member = await desks.start(TRADER, None, "Tom")
    assert member is not None and member.kind == "member" and member.membership.desk.id == OPERATOR
    created = await desks.start(ADA, None, "Ada")
    assert created is not None and created.kind == "created"
    assert (created.membership.desk.name, created.membership.role) == ("Ada's desk", "owner")
    again = await desks.start(ADA, None, "Ada")
    assert again is not None and again.kind == "member" and again.membership == created.membership
    invite = await desks.invite(created.membership.desk.id, ADA, "trader")
    joined = await desks.start(BOB, invite.code, "Bob")
    assert joined is not None and joined.kind == "joined" and joined.membership.role == "trader"
    assert [d.name for d in desks.all()] == ["Operator desk", "Ada's desk"]
    to_operator = await desks.invite(OPERATOR, OWNER, "trader")
    already = await desks.start(VIEWER, to_operator.code, "Vi")
    assert already is not None and already.kind == "already" and already.membership.role == "viewer"
    used_later = await desks.start(CY, to_operator.code, "Cy")  # "already" left the code unspent
    assert used_later is not None and used_later.kind == "joined"
    with pytest.raises(InviteError):
        await desks.start(ADA, "nope-nope-nope-nope", "Ada")
    invite_only = await _desks(db, clock, signup="invite")
    assert await invite_only.start(4004, None, "Dee") is None


async def test_a_settings_role_cannot_be_demoted_by_a_stored_row(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    invite = await desks.invite(OPERATOR, OWNER, "viewer")
    async with db.engine.begin() as conn:  # a stored row for a settings member (an old invite)
        await conn.execute(
            sa.text(
                "INSERT INTO desk_members (desk_id, user_id, role, joined_at_ms) "
                "VALUES ('operator', :u, 'viewer', 1)"
            ),
            {"u": TRADER},
        )
    await desks.reload()
    assert desks.role(OPERATOR, TRADER) == "trader"
    joined = await desks.redeem(invite.code, ADA)
    assert joined.desk.id == OPERATOR and desks.members(OPERATOR)[ADA] == "viewer"
    with pytest.raises(DeskError, match="TELEGRAM_ALLOWED_USERS"):
        await desks.leave(OPERATOR, TRADER)
    with pytest.raises(DeskError, match="TELEGRAM_ALLOWED_USERS"):
        await desks.remove_member(OPERATOR, OWNER, VIEWER)
    assert await desks.remove_member(OPERATOR, OWNER, ADA) == "viewer"
    assert desks.role(OPERATOR, ADA) is None and not desks.is_known(ADA)


async def test_leaving_and_removing(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    ada = (await desks.create(ADA, "Ada's desk")).desk.id
    roles: tuple[tuple[int, Role], ...] = ((BOB, "trader"), (CY, "viewer"))
    for user, role in roles:
        await desks.redeem((await desks.invite(ada, ADA, role)).code, user)
    with pytest.raises(DeskError, match="last owner"):
        await desks.leave(ada, ADA)
    with pytest.raises(NotOwner):
        await desks.remove_member(ada, BOB, CY)
    with pytest.raises(NotMember):
        await desks.remove_member(ada, ADA, TRADER)
    await desks.leave(ada, BOB)
    assert desks.role(ada, BOB) is None and desks.active(BOB) is None
    assert await desks.remove_member(ada, ADA, CY) == "viewer"
    assert desks.members(ada) == {ADA: "owner"}
    await desks.reload()
    assert desks.members(ada) == {ADA: "owner"}


async def test_mark_revoked_is_true_once_and_clears(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    ada = (await desks.create(ADA, "Ada's desk")).desk.id
    assert await desks.mark_revoked(ada, "backpack") is True
    assert await desks.mark_revoked(ada, "backpack") is False
    desk = desks.get(ada)
    assert desk is not None and desk.revoked and desk.revoked_venue == "backpack"
    other = await _desks(db, clock)  # another process sees it, and cannot mark it again
    assert await other.mark_revoked(ada, "hyperliquid") is False
    assert await desks.mark_revoked(OPERATOR, "backpack") is True
    assert desks.get(OPERATOR).revoked  # type: ignore[union-attr]
    await desks.clear_revoked(ada)
    assert not desks.get(ada).revoked  # type: ignore[union-attr]
    assert await desks.mark_revoked(ada, "hyperliquid") is True
    assert await desks.mark_revoked("d000000000000", "backpack") is False


async def test_a_reload_gives_the_same_state(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    ada = await desks.create(ADA, "Ada's desk")
    clock.advance(5)
    bob = await desks.create(BOB, "Bob's desk")
    await desks.redeem((await desks.invite(ada.desk.id, ADA, "trader")).code, BOB)
    await desks.redeem((await desks.invite(OPERATOR, OWNER, "viewer")).code, CY)
    await desks.choose(BOB, bob.desk.id)
    await desks.create(OWNER, "Owner's second")
    await desks.choose(OWNER, OPERATOR)
    await desks.mark_revoked(bob.desk.id, "backpack")
    users = [OWNER, TRADER, VIEWER, ADA, BOB, CY]
    before = _state(desks, users)
    fresh = await _desks(db, clock)
    assert _state(fresh, users) == before
    await desks.reload()
    assert _state(desks, users) == before


async def _race(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    ada = await desks.create(ADA, "Ada's desk")
    invite = await desks.invite(ada.desk.id, ADA, "trader")
    racers = [await _desks(db, clock) for _ in range(4)]  # as if four processes
    users = [3001, 3002, 3003, 3004]
    results = await asyncio.gather(
        *(r.redeem(invite.code, u) for r, u in zip(racers, users, strict=True)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and won[0].role == "trader"
    assert all(isinstance(e, InviteError) and e.reason == "used" for e in lost), lost
    winner = users[results.index(won[0])]
    await desks.reload()
    assert desks.members(ada.desk.id) == {ADA: "owner", winner: "trader"}
    async with db.engine.connect() as conn:
        used_by = (await conn.execute(sa.text("SELECT used_by FROM desk_invites"))).scalar()
    assert used_by == winner


async def _create_race(db: Database, clock: FakeClock) -> None:
    racers = [await _desks(db, clock, max_desks=3) for _ in range(5)]
    results = await asyncio.gather(
        *(r.create(4000 + i, f"desk {i}") for i, r in enumerate(racers)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 2, results
    assert all(isinstance(r, DeskLimit) for r in results if isinstance(r, BaseException))
    fresh = await _desks(db, clock)
    assert len(fresh.all()) == 4  # the operator's, Ada's from the race before, and two


async def test_two_concurrent_redeems_one_wins_and_creates_keep_max_desks_sqlite(
    db: Database, clock: FakeClock
) -> None:
    await _race(db, clock)
    await _create_race(db, clock)


async def test_two_concurrent_redeems_one_wins_and_creates_keep_max_desks_postgresql(
    pg_url: str, clock: FakeClock
) -> None:
    db = Database(pg_url)
    await db.start()
    try:
        await _race(db, clock)
        await _create_race(db, clock)
    finally:
        await db.close()


async def test_old_invites_are_dropped_as_new_ones_are_made(db: Database, clock: FakeClock) -> None:
    desks = await _desks(db, clock)
    old = await desks.invite(OPERATOR, OWNER, "trader")
    await desks.redeem(old.code, ADA)
    stale = await desks.invite(OPERATOR, OWNER, "viewer")
    clock.advance(3600 + 86_400 + 1)  # a day past their expiry
    fresh = await desks.invite(OPERATOR, OWNER, "viewer")
    async with db.engine.connect() as conn:
        kept = (await conn.execute(sa.text("SELECT code_hash FROM desk_invites"))).scalars().all()
    assert kept == [code_hash(fresh.code)]
    for code in (old.code, stale.code):
        with pytest.raises(InviteError) as gone:
            await desks.redeem(code, BOB)
        assert gone.value.reason == "unknown"
    assert (await desks.redeem(fresh.code, BOB)).role == "viewer"


async def test_a_choice_of_a_desk_one_left_falls_back_to_the_default(
    db: Database, clock: FakeClock
) -> None:
    desks = await _desks(db, clock)
    ada = (await desks.create(ADA, "Ada's desk")).desk.id
    await desks.redeem((await desks.invite(ada, ADA, "trader")).code, TRADER)
    assert desks.active(TRADER) == desks.memberships(TRADER)[1]  # joining made it active
    await desks.remove_member(ada, ADA, TRADER)
    active = desks.active(TRADER)
    assert active is not None and active.desk.id == OPERATOR
    await desks.reload()
    assert desks.active(TRADER) == active
