"""A desk's own credentials: sealed per desk and venue, rotated with the rest, refused without
SECRETS_KEYRING."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.keyring.desk_keys import NOT_CONFIGURED, DeskKeys, hint_of
from bot.keyring.ring import CannotOpen, Key, NoKeyring, key_id_of
from bot.keyring.source import KeySource
from bot.keyring.vault import PAPER_ACCOUNT, Vault
from bot.storage.db import Database
from tests.keyring.test_vault import PAPER_SECRET, open_db, raw_bytes
from tests.keys import new_keypair

PAIR = new_keypair()
FIELDS = {"api_key": PAIR.api_key, "api_secret": PAIR.api_secret}


def rows(path: Path) -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(path)
    try:
        return list(con.execute("SELECT desk_id, venue, sealed, hint FROM desk_secrets"))
    finally:
        con.close()


def source(*keys: Key, path: Path) -> KeySource:
    return KeySource(",".join(k.entry() for k in keys), path / "unused")


async def test_put_get_venues_delete_sealed_per_desk(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    keys = DeskKeys(db, source(Key.generate("k1"), path=tmp_path))
    try:
        assert keys.configured
        await keys.put("dA", "backpack", FIELDS, hint_of(PAIR.api_key))
        assert await keys.get("dA", "backpack") == FIELDS
        assert await keys.get("dB", "backpack") is None
        assert await keys.get("dA", "hyperliquid") is None
        assert await keys.venues("dA") == {"backpack": "…" + PAIR.api_key.rstrip("=")[-4:]}
        assert await keys.venues("dB") == {}
        [(desk, venue, sealed, hint)] = rows(path)
        assert (desk, venue, key_id_of(sealed), hint) == (
            "dA",
            "backpack",
            "k1",
            hint_of(PAIR.api_key),
        )
        data = raw_bytes(path)
        assert PAIR.api_secret.encode() not in data and PAIR.api_key.encode() not in data
        assert await keys.delete("dA", "backpack")
        assert not await keys.delete("dA", "backpack")
        assert await keys.get("dA", "backpack") is None
        assert await keys.venues("dA") == {}
    finally:
        await db.close()
    assert rows(path) == []


async def test_a_row_copied_to_another_desk_or_venue_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    keys = DeskKeys(db, source(Key.generate("k1"), path=tmp_path))
    try:
        await keys.put("dA", "backpack", FIELDS, "…abcd")
        await keys.put("dB", "backpack", {"api_key": "x", "api_secret": "y"}, "…wxyz")
        con = sqlite3.connect(path)
        with con:  # B's row replaced by a copy of A's: B must not get A's keys
            con.execute(
                "UPDATE desk_secrets SET sealed = (SELECT sealed FROM desk_secrets WHERE "
                "desk_id = 'dA') WHERE desk_id = 'dB'"
            )
            con.execute(
                "INSERT INTO desk_secrets SELECT desk_id, 'hyperliquid', sealed, hint, "
                "created_at_ms FROM desk_secrets WHERE desk_id = 'dA'"
            )
        con.close()
        with pytest.raises(CannotOpen, match="copied from another place") as caught:
            await keys.get("dB", "backpack")
        assert PAIR.api_secret not in str(caught.value)
        with pytest.raises(CannotOpen):
            await keys.get("dA", "hyperliquid")
        assert await keys.get("dA", "backpack") == FIELDS
    finally:
        await db.close()


async def test_without_secrets_keyring_nothing_is_stored_not_even_with_a_keyring_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    file_source = KeySource(None, tmp_path / "keyring")  # would make DATA_DIR/keyring
    try:
        await Vault(db, file_source).put(PAPER_ACCOUNT, PAPER_SECRET)  # the file now exists
        assert file_source.path.exists() and file_source.current() is not None
        keys = DeskKeys(db, file_source)
        assert not keys.configured and not file_source.configured
        with pytest.raises(NoKeyring) as caught:
            await keys.put("dA", "backpack", FIELDS, "…abcd")
        assert str(caught.value) == NOT_CONFIGURED
        assert "SECRETS_KEYRING" in NOT_CONFIGURED and "backups" in NOT_CONFIGURED
        assert rows(path) == []
        assert not KeySource("  ", tmp_path / "keyring").configured
    finally:
        await db.close()


async def test_a_hint_never_shows_more_than_four_characters(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "bot.db")
    keys = DeskKeys(db, source(Key.generate("k1"), path=tmp_path))
    try:
        with pytest.raises(ValueError, match="at most 4"):
            await keys.put("dA", "backpack", FIELDS, PAIR.api_key)
        assert hint_of("0x" + "ab" * 19 + "3f") == "…ab3f"
    finally:
        await db.close()


async def test_rotation_reseals_desk_keys_in_the_same_transaction(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    k1, k2, stray = Key.generate("k1"), Key.generate("k2"), Key.generate("k0")
    db = await open_db(path)
    try:
        await Vault(db, source(k1, path=tmp_path)).put(PAPER_ACCOUNT, PAPER_SECRET)
        await DeskKeys(db, source(k1, path=tmp_path)).put("dA", "backpack", FIELDS, "…abcd")
        await DeskKeys(db, source(k1, path=tmp_path)).put("dB", "hyperliquid", {"a": "b"}, "…ef")
        both = source(k2, k1, path=tmp_path)
        done = await Vault(db, both).rotate()
        assert (done.resealed, done.stored, done.key_id) == (3, 3, "k2")
        assert {key_id_of(r[2]) for r in rows(path)} == {"k2"}
        assert (await Vault(db, both).rotate()).resealed == 0
        only_new = DeskKeys(db, source(k2, path=tmp_path))
        assert await only_new.get("dA", "backpack") == FIELDS
        assert await only_new.get("dB", "hyperliquid") == {"a": "b"}

        # One desk row under a key the keyring lacks: nothing changes, anywhere.
        await DeskKeys(db, source(stray, path=tmp_path)).put("dC", "backpack", FIELDS, "…x")
        await Vault(db, source(k1, path=tmp_path)).put(PAPER_ACCOUNT, PAPER_SECRET)
        before = rows(path), await db.get_meta(PAPER_ACCOUNT.name)
        with pytest.raises(CannotOpen, match="sealed under key k0"):
            await Vault(db, source(k2, k1, path=tmp_path)).rotate()
        assert (rows(path), await db.get_meta(PAPER_ACCOUNT.name)) == before
    finally:
        await db.close()


async def test_reading_without_the_keyring_is_a_clear_refusal(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "bot.db")
    try:
        await DeskKeys(db, source(Key.generate("k1"), path=tmp_path)).put("dA", "bp", FIELDS, "…")
        unset = DeskKeys(db, KeySource(None, tmp_path / "none"))
        with pytest.raises(CannotOpen, match="SECRETS_KEYRING is not set"):
            await unset.get("dA", "bp")
    finally:
        await db.close()


async def test_desk_secrets_table_is_made_by_the_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        await db.start()
        await db.start()  # idempotent
    finally:
        await db.close()
    assert rows(tmp_path / "bot.db") == []
