"""A desk's own exchange credentials, sealed in ``desk_secrets`` (one row per desk and venue).

The whole JSON of the form's fields is sealed under ``Binding(purpose="credentials",
venue=venue, desk=desk_id)``, so a row copied to another desk or venue does not open. Only a hint
of at most four characters of the public key or wallet address stays in clear (``…Ab3F``), for
``/desk`` and the form to show which key is connected.

Sealing a desk's keys needs ``SECRETS_KEYRING`` set in the environment
(:attr:`~bot.keyring.source.KeySource.configured`): the keyring file the bot may make beside the
database would travel with the database's backups, and there is never a plaintext fallback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import delete, select

from bot.keyring.ring import Binding, CannotOpen, Keyring, NoKeyring
from bot.keyring.source import KeySource
from bot.keyring.wipe import scrub
from bot.storage.db import Database
from bot.storage.secrets import DeskSecret

#: The purpose a desk's credentials are sealed for (part of the additional data).
PURPOSE = "credentials"
#: How many characters of a public key or address a hint shows.
HINT_CHARS = 4
#: Why connecting is refused without ``SECRETS_KEYRING`` (shown to the user as it is).
NOT_CONFIGURED = (
    "Connecting your own keys needs a keyring in the bot's environment (SECRETS_KEYRING), and "
    "this bot has none: a keyring file beside the database would travel with its backups. "
    "Ask the bot's operator to set SECRETS_KEYRING (python -m bot keys new makes one)."
)


def binding(desk_id: str, venue: str) -> Binding:
    """Where a desk's credentials for ``venue`` belong."""
    return Binding(purpose=PURPOSE, venue=venue, desk=desk_id)


def hint_of(public: str) -> str:
    """``…`` and the last :data:`HINT_CHARS` characters of a public key or address (base64's
    padding left out: every Backpack key ends with ``=``)."""
    return "…" + public.rstrip("=")[-HINT_CHARS:]


#: Rows that hold a desk's paper-account key, not an exchange's: sealed like the operator's
#: paper keys (the keyring file will do), never listed as connected keys.
PAPER_VENUES = frozenset({"backpack-paper"})


class DeskKeys:
    """Put, get and delete a desk's sealed credentials; list which venues a desk connected."""

    def __init__(self, db: Database, source: KeySource) -> None:
        self.db = db
        self.source = source

    def __repr__(self) -> str:
        return f"DeskKeys({self.source!r})"

    @property
    def configured(self) -> bool:
        """Whether keys may be connected at all (``SECRETS_KEYRING`` is set)."""
        return self.source.configured

    def _ring(self, venue: str) -> Keyring:
        if venue in PAPER_VENUES:
            return self.source.for_sealing()
        ring = self.source.current() if self.source.configured else None
        if ring is None:
            raise NoKeyring(NOT_CONFIGURED)
        return ring

    async def put(self, desk_id: str, venue: str, fields: Mapping[str, str], hint: str) -> None:
        """Seal ``fields`` for the desk and venue, replacing what was there (raises
        :class:`~bot.keyring.ring.NoKeyring` without ``SECRETS_KEYRING``: never in clear)."""
        if len(hint) > HINT_CHARS + 1:
            raise ValueError(f"a hint shows at most {HINT_CHARS} characters of a public key")
        sealed = self._ring(venue).seal(
            json.dumps(dict(fields), sort_keys=True), binding(desk_id, venue)
        )
        now_ms = int(self.db.clock.time() * 1000)
        async with self.db.session() as s, s.begin():
            row = await s.get(DeskSecret, (desk_id, venue))
            replaced = row is not None
            if row is None:
                s.add(
                    DeskSecret(
                        desk_id=desk_id, venue=venue, sealed=sealed, hint=hint, created_at_ms=now_ms
                    )
                )
            else:
                row.sealed, row.hint, row.created_at_ms = sealed, hint, now_ms
        if replaced:
            await scrub(self.db)

    async def get(self, desk_id: str, venue: str) -> dict[str, str] | None:
        """The desk's credentials for ``venue`` in clear, or ``None`` when none are stored
        (:class:`~bot.keyring.ring.CannotOpen` when the row does not open here)."""
        async with self.db.session() as s:
            row = await s.get(DeskSecret, (desk_id, venue))
        if row is None:
            return None
        configured = self.source.configured or venue in PAPER_VENUES
        if not configured or (ring := self.source.current()) is None:
            raise CannotOpen(
                f"the {venue} credentials of desk {desk_id} are sealed and SECRETS_KEYRING is "
                "not set: set it to the keys they were sealed with"
            )
        data = json.loads(ring.open(row.sealed, binding(desk_id, venue)))
        if not isinstance(data, dict):
            raise CannotOpen(f"the {venue} credentials of desk {desk_id} are not a form's fields")
        return {str(k): str(v) for k, v in data.items()}

    async def delete(self, desk_id: str, venue: str) -> bool:
        """Wipe the desk's credentials for ``venue``; ``True`` when there were some."""
        async with self.db.session() as s, s.begin():
            done = await s.execute(
                delete(DeskSecret).where(DeskSecret.desk_id == desk_id, DeskSecret.venue == venue)
            )
        removed = bool(getattr(done, "rowcount", 0))
        if removed:
            await scrub(self.db)
        return removed

    async def venues(self, desk_id: str) -> dict[str, str]:
        """``{venue: hint}`` of every venue the desk connected."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(DeskSecret.venue, DeskSecret.hint)
                .where(DeskSecret.desk_id == desk_id)
                .order_by(DeskSecret.venue)
            )
            return {venue: hint for venue, hint in rows.all() if venue not in PAPER_VENUES}
