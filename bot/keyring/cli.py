"""``python -m bot keys new`` and ``python -m bot keys rotate``.

``new`` prints one fresh keyring entry (``k<n>:<base64 of 32 random bytes>``) on stdout, and on
stderr where it goes. ``rotate`` re-seals every secret the bot stores under the newest key of the
keyring, in one transaction, and says how many it re-sealed; it never prints a secret.
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import ValidationError

from bot.keyring.ring import Key, KeyringError, next_key_id
from bot.keyring.source import KeySource
from bot.keyring.vault import Rotation, Vault
from bot.settings import Settings

USAGE = """usage: python -m bot keys new [--id ID]   print a fresh keyring entry
       python -m bot keys rotate          re-seal every stored secret under the newest key"""


def main(args: list[str]) -> int:
    """The ``keys`` subcommand; returns the process's exit code."""
    if not args or args[0] not in ("new", "rotate") or (args[0] == "rotate" and len(args) > 1):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        print("Configuration error:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    source = KeySource.from_settings(settings)
    try:
        if args[0] == "new":
            return _new(source, args[1:])
        return _rotate(settings, source)
    except KeyringError as exc:
        print(f"keys {args[0]}: {exc}", file=sys.stderr)
        return 2


def _new(source: KeySource, args: list[str]) -> int:
    if args and (len(args) != 2 or args[0] != "--id"):
        print(USAGE, file=sys.stderr)
        return 2
    ring = source.current()
    key = Key.generate(args[1] if args else next_key_id(ring))
    if ring is not None and ring.key(key.id) is not None:
        print(f"keys new: {key.id} is in the keyring already; pick another --id", file=sys.stderr)
        return 2
    print(key.entry())
    if ring is None:
        hint = f"Set SECRETS_KEYRING={key.id}:… (the line above)."
    else:
        hint = (
            f"Put it first in SECRETS_KEYRING, followed by the keys in use now "
            f"({', '.join(ring.ids)}, from {ring.origin}), restart the bot and run "
            "`python -m bot keys rotate`; then the older keys may be dropped."
        )
    print(hint, file=sys.stderr)
    return 0


def _rotate(settings: Settings, source: KeySource) -> int:
    from bot.datadir import lock_down

    lock_down(settings.data_dir, settings.database_url)  # a keyring file made now is 0600
    done = asyncio.run(_run_rotation(settings.database_url, source))
    if done.stored == 0:
        print("keys rotate: no secret is stored; nothing to re-seal")
    else:
        print(
            f"keys rotate: re-sealed {done.resealed} of {done.stored} stored secrets; "
            f"all {done.stored} are now sealed under key {done.key_id}"
        )
    return 0


async def _run_rotation(database_url: str, source: KeySource) -> Rotation:
    from bot.storage.db import Database

    db = Database(database_url)
    try:
        await db.start()
        return await Vault(db, source).rotate()
    finally:
        await db.close()
