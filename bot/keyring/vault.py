"""The secrets the bot keeps in its database (``app_meta`` rows), sealed.

Every such row is listed in :data:`STORED` with the venue it belongs to; nothing else in the
database is a secret but desks' own credentials (``desk_secrets``). A row is read through
:meth:`Vault.get` (opened with the keyring) and written through :meth:`Vault.put` (sealed
under the newest key). Rows an older version wrote in clear are sealed in place at start-up
(:meth:`Vault.seal_plaintext`), and ``keys rotate`` re-seals every row under the newest key in
one transaction (:meth:`Vault.rotate`), desks' credentials (:mod:`bot.keyring.desk_keys`) with
them. After either, a SQLite database is vacuumed and its WAL truncated, so the replaced bytes
leave the files too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import select

from bot.keyring.desk_keys import binding as desk_binding
from bot.keyring.ring import OPERATOR_DESK, Binding, CannotOpen, key_id_of
from bot.keyring.source import KeySource
from bot.keyring.wipe import scrub
from bot.storage.core import AppMeta
from bot.storage.db import Database
from bot.storage.secrets import DeskSecret

log = logging.getLogger("bot.keyring")


@dataclass(frozen=True)
class Stored:
    """One secret row: its ``app_meta`` key (also the purpose in the binding) and venue."""

    name: str
    venue: str

    def binding(self, desk: str = OPERATOR_DESK) -> Binding:
        return Binding(purpose=self.name, venue=self.venue, desk=desk)


#: The paper account's signing key (base64 ed25519 secret).
PAPER_ACCOUNT = Stored("paper_secret", "backpack-paper")
#: The paper hedge account's signing key on the second Backpack-style simulator.
PAPER_HEDGE = Stored("paper_hedge_secret", "backpack-paper-hedge")
#: The paper Hyperliquid face's main and agent wallet keys (JSON list of two hex keys).
PAPER_HYPERLIQUID = Stored("paper_hyperliquid_keys", "hyperliquid-paper")
#: Every secret the bot stores in its database.
STORED: tuple[Stored, ...] = (PAPER_ACCOUNT, PAPER_HEDGE, PAPER_HYPERLIQUID)


@dataclass(frozen=True)
class Rotation:
    """What :meth:`Vault.rotate` did: ``resealed`` of ``stored`` rows now under ``key_id``."""

    resealed: int
    stored: int
    key_id: str | None


class Vault:
    """Sealed ``app_meta`` rows of one desk (today: the operator's)."""

    def __init__(self, db: Database, keys: KeySource, desk: str = OPERATOR_DESK) -> None:
        self.db = db
        self.keys = keys
        self.desk = desk

    async def get(self, item: Stored) -> str | None:
        """The secret in clear, or ``None`` when none is stored. A value found in clear (an
        older version's) is sealed in place first."""
        value = await self.db.get_meta(item.name)
        if value is None:
            return None
        if key_id_of(value) is None:
            await self.put(item, value)
            await self.scrub()
            return value
        ring = self.keys.current()
        if ring is None:
            raise_no_keyring(item)
        return ring.open(value, item.binding(self.desk))

    async def put(self, item: Stored, secret: str) -> None:
        """Store ``secret`` sealed (raises :class:`~bot.keyring.ring.NoKeyring` without a
        keyring: never in clear)."""
        sealed = self.keys.for_sealing().seal(secret, item.binding(self.desk))
        await self.db.set_meta(item.name, sealed)

    async def get_or_create(self, item: Stored, make: Callable[[], str]) -> str:
        """The stored secret, or a new one from ``make()``, stored sealed before it is used."""
        secret = await self.get(item)
        if secret is None:
            secret = make()
            await self.put(item, secret)
        return secret

    async def seal_plaintext(self) -> int:
        """Seal every row still in clear, in place; check that every sealed row opens with the
        keyring (a dropped key is found at start-up, not at the first order). Returns how many
        rows were sealed now."""
        sealed = 0
        for item in STORED:
            value = await self.db.get_meta(item.name)
            if value is None:
                continue
            if key_id_of(value) is None:
                await self.put(item, value)
                sealed += 1
                continue
            ring = self.keys.current()
            if ring is None:
                raise_no_keyring(item)
            ring.open(value, item.binding(self.desk))
        if sealed:
            await self.scrub()
            log.info("sealed %d secret(s) an older version had stored in clear", sealed)
        return sealed

    async def rotate(self) -> Rotation:
        """Re-seal every stored secret under the newest key, all or none (one transaction): the
        ``app_meta`` rows of :data:`STORED` and every desk's credentials (``desk_secrets``).
        Rows already under the newest key are left alone, so running it again changes nothing."""
        async with self.db.session() as s, s.begin():
            rows = [r for item in STORED if (r := await s.get(AppMeta, item.name)) is not None]
            desks = list((await s.scalars(select(DeskSecret))).all())
            stored = len(rows) + len(desks)
            if not stored:
                ring = self.keys.current()
                return Rotation(0, 0, ring.newest.id if ring else None)
            ring = self.keys.for_sealing()
            by_name = {item.name: item for item in STORED}
            resealed = 0
            for row in rows:
                binding = by_name[row.key].binding(self.desk)
                kid = key_id_of(row.value)
                if kid == ring.newest.id:
                    ring.open(row.value, binding)  # proves it opens: the others may be dropped
                    continue
                clear = row.value if kid is None else ring.open(row.value, binding)
                row.value = ring.seal(clear, binding)
                resealed += 1
            for desk in desks:  # a desk's keys are never in clear: they are sealed or refused
                binding = desk_binding(desk.desk_id, desk.venue)
                clear = ring.open(desk.sealed, binding)
                if key_id_of(desk.sealed) != ring.newest.id:
                    desk.sealed = ring.seal(clear, binding)
                    resealed += 1
        if resealed:
            await self.scrub()
        return Rotation(resealed, stored, ring.newest.id)

    async def scrub(self) -> None:
        """See :func:`bot.keyring.wipe.scrub`."""
        await scrub(self.db)


def raise_no_keyring(item: Stored) -> NoReturn:
    raise CannotOpen(
        f"the {item.name} is sealed and there is no keyring to open it: set SECRETS_KEYRING "
        "to the keys it was sealed with, or restore the keyring file"
    )
