"""Seeding the scale bench through the product's storage APIs: live desks on their own
simulator keys (sealed by :class:`~bot.keyring.desk_keys.DeskKeys`), members through the
:class:`~bot.desks.registry.Desks` registry's invites, price alerts through
:class:`~bot.storage.alerts.AlertStore` — the rows a web process would write, without typing
every ``/start`` through Telegram.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from nacl.signing import SigningKey

from bot.clock import SystemClock, now_ms
from bot.desks.registry import Desks
from bot.keyring.desk_keys import DeskKeys, hint_of
from bot.keyring.source import KeySource
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.strategy import StrategyStore

#: Telegram user ids of the bench's users (the operator is :data:`OPERATOR_USER`).
FIRST_USER = 5_000_000
OPERATOR_USER = 4_000_001
#: Database writes in flight while seeding.
CONCURRENCY = 8


def new_keypair() -> tuple[str, str]:
    """``(api_key, api_secret)``: any ed25519 keypair is a simulator account."""
    sk = SigningKey.generate()
    return base64.b64encode(bytes(sk.verify_key)).decode(), base64.b64encode(bytes(sk)).decode()


@dataclass(frozen=True)
class SeedAlert:
    id: int
    user_id: int
    threshold: Decimal


@dataclass
class Seeded:
    """What the run put in the database."""

    desk_of: dict[int, str] = field(default_factory=dict)  # user → desk
    api_key_of: dict[str, str] = field(default_factory=dict)  # desk → its simulator key
    alerts: list[SeedAlert] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # one per desk

    @property
    def users(self) -> list[int]:
        return sorted(self.desk_of)


async def _gather(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


async def seed(
    url: str,
    keyring: str,
    *,
    users: int,
    desks: int,
    alerts: int,
    symbol: str,
    price: Decimal,
    spread: Decimal = Decimal("0.03"),
) -> Seeded:
    """``desks`` live desks (owners are the first ``desks`` users), every other user a trader
    on desk ``i % desks``; ``alerts`` price alerts ``symbol > threshold``, thresholds spread
    evenly over ``(price, price × (1 + spread)]`` and distinct within each user."""
    clock = SystemClock()
    db = Database(url, clock=clock)
    await db.start()
    out = Seeded()
    try:
        keys = DeskKeys(db, KeySource(keyring, Path("/nonexistent"), create_file=False))
        registry = Desks(
            db,
            clock,
            operator_roles={OPERATOR_USER: "owner"},
            signup="invite",
            max_desks=desks + 1,
            invite_ttl_seconds=86400,
        )
        await registry.load()
        owners = [FIRST_USER + i for i in range(min(desks, users))]
        out.owners = owners

        def open_desk(owner: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                m = await registry.create(owner, f"Desk {owner - FIRST_USER}")
                api_key, api_secret = new_keypair()
                fields = {"api_key": api_key, "api_secret": api_secret}
                await keys.put(m.desk.id, "backpack", fields, hint_of(api_key))
                out.desk_of[owner] = m.desk.id
                out.api_key_of[m.desk.id] = api_key
                # the strategy runs its cycle on every desk (the workers' per-desk jobs), paused
                # and with nobody to ask: it reads and decides, opens nothing, sends nothing
                await StrategyStore(db, desk=m.desk.id).save_settings(
                    now_ms=now_ms(clock), mode="approve", paused=True
                )

            return job

        await _gather([open_desk(o) for o in owners])

        def join(user: int) -> Callable[[], Awaitable[None]]:
            owner = owners[(user - FIRST_USER) % len(owners)]

            async def job() -> None:
                desk = out.desk_of[owner]
                invite = await registry.invite(desk, owner, "trader")
                await registry.redeem(invite.code, user)
                out.desk_of[user] = desk

            return job

        await _gather([join(FIRST_USER + i) for i in range(len(owners), users)])

        step = price * spread / max(alerts, 1)
        store = AlertStore(db)
        all_users = out.users

        def add(i: int) -> Callable[[], Awaitable[None]]:
            user = all_users[i % len(all_users)]
            threshold = (price + step * (i + 1)).quantize(Decimal("0.01"))

            async def job() -> None:
                alert = await store.for_desk(out.desk_of[user]).add(
                    user_id=user,
                    chat_id=user,
                    symbol=symbol,
                    kind="price",
                    op=">",
                    threshold=threshold,
                    window_seconds=None,
                    now_ms=now_ms(clock),
                )
                out.alerts.append(SeedAlert(alert.id, user, threshold))

            return job

        await _gather([add(i) for i in range(alerts)])
    finally:
        await db.close()
    return out
