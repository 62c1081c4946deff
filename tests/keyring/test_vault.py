"""The secrets the bot keeps in its database: sealed, migrated from clear, rotated, refused."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.keyring.ring import CannotOpen, Key, Keyring, NoKeyring, key_id_of
from bot.keyring.source import KeySource
from bot.keyring.vault import PAPER_ACCOUNT, PAPER_HEDGE, PAPER_HYPERLIQUID, STORED, Vault
from bot.storage.db import Database

PAPER_SECRET = base64.b64encode(b"paper-account-secret-for-a-test").decode()
HEDGE_SECRET = base64.b64encode(b"paper-hedge-secret-for-the-test").decode()
HL = json.dumps(["0x" + "1a" * 32, "0x" + "2b" * 32])
CLEAR = {
    PAPER_ACCOUNT.name: PAPER_SECRET,
    PAPER_HEDGE.name: HEDGE_SECRET,
    PAPER_HYPERLIQUID.name: HL,
}


def raw_bytes(path: Path) -> bytes:
    """Every byte of a SQLite database on disk: the file and its WAL / journal."""
    return b"".join(
        p.read_bytes()
        for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-journal")))
        if p.exists()
    )


def meta(path: Path, key: str) -> str:
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT value FROM app_meta WHERE key = ?", (key,)).fetchone()
    finally:
        con.close()
    return str(row[0])


async def open_db(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    return db


async def test_a_new_secret_is_stored_sealed_and_the_keyring_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    source = KeySource(None, tmp_path / "data" / "keyring")
    try:
        got = await Vault(db, source).get_or_create(PAPER_ACCOUNT, lambda: PAPER_SECRET)
        assert got == PAPER_SECRET
        again = await Vault(db, KeySource(None, source.path)).get(PAPER_ACCOUNT)
        assert again == PAPER_SECRET
    finally:
        await db.close()
    assert stat.S_IMODE(source.path.stat().st_mode) == 0o600
    assert key_id_of(meta(path, PAPER_ACCOUNT.name)) == "k1"
    assert PAPER_SECRET.encode() not in raw_bytes(path)


async def test_plaintext_from_an_older_version_is_sealed_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    try:
        for name, value in CLEAR.items():  # what the previous version wrote
            await db.set_meta(name, value)
        assert PAPER_SECRET.encode() in raw_bytes(path)
        vault = Vault(db, KeySource(None, tmp_path / "keyring"))
        assert await vault.seal_plaintext() == 3
        assert await vault.seal_plaintext() == 0
        assert [await vault.get(item) for item in STORED] == list(CLEAR.values())
    finally:
        await db.close()
    data = raw_bytes(path)
    for value in CLEAR.values():
        assert value.encode() not in data
    assert b"1a" * 32 not in data


async def test_without_a_keyring_nothing_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_db(path)
    strict = KeySource(None, tmp_path / "keyring", create_file=False)
    try:
        with pytest.raises(NoKeyring, match="there is no keyring: set SECRETS_KEYRING"):
            await Vault(db, strict).get_or_create(PAPER_ACCOUNT, lambda: PAPER_SECRET)
        assert await db.get_meta(PAPER_ACCOUNT.name) is None
        await db.set_meta(PAPER_ACCOUNT.name, PAPER_SECRET)  # an older version's row
        with pytest.raises(NoKeyring):
            await Vault(db, strict).seal_plaintext()
        assert not strict.path.exists()
        # a keyring file that cannot be made is the same refusal, not a fallback
        blocked = tmp_path / "not-a-dir"
        blocked.write_text("")
        with pytest.raises(NoKeyring, match="cannot be made"):
            await Vault(db, KeySource(None, blocked / "keyring")).put(PAPER_HEDGE, HEDGE_SECRET)
        assert await db.get_meta(PAPER_HEDGE.name) is None
    finally:
        await db.close()


async def test_rotate_reseals_everything_then_the_old_key_can_go(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    k1, k2 = Key.generate("k1"), Key.generate("k2")
    db = await open_db(path)
    try:
        old = Vault(db, KeySource(k1.entry(), tmp_path / "unused"))
        for item in STORED:
            await old.put(item, CLEAR[item.name])
        both = Vault(db, KeySource(f"{k2.entry()},{k1.entry()}", tmp_path / "unused"))
        assert [await both.get(item) for item in STORED] == list(CLEAR.values())
        before = {item.name: await db.get_meta(item.name) for item in STORED}
        done = await both.rotate()
        assert (done.resealed, done.stored, done.key_id) == (3, 3, "k2")
        after = {item.name: await db.get_meta(item.name) for item in STORED}
        assert all(key_id_of(v or "") == "k2" for v in after.values())
        assert (await both.rotate()).resealed == 0  # idempotent
        assert {item.name: await db.get_meta(item.name) for item in STORED} == after
        only_new = Vault(db, KeySource(k2.entry(), tmp_path / "unused"))
        assert [await only_new.get(item) for item in STORED] == list(CLEAR.values())
        assert await only_new.seal_plaintext() == 0
    finally:
        await db.close()
    data = raw_bytes(path)
    assert all((v or "").encode() not in data for v in before.values())  # scrubbed


async def test_rotation_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    k1, k2, stray = Key.generate("k1"), Key.generate("k2"), Key.generate("k0")
    db = await open_db(path)
    try:
        await Vault(db, KeySource(k1.entry(), tmp_path / "x")).put(PAPER_ACCOUNT, PAPER_SECRET)
        await Vault(db, KeySource(stray.entry(), tmp_path / "x")).put(PAPER_HEDGE, HEDGE_SECRET)
        before = {item.name: await db.get_meta(item.name) for item in STORED}
        vault = Vault(db, KeySource(f"{k2.entry()},{k1.entry()}", tmp_path / "x"))
        with pytest.raises(CannotOpen, match="paper_hedge_secret is sealed under key k0"):
            await vault.rotate()
        assert {item.name: await db.get_meta(item.name) for item in STORED} == before
        with pytest.raises(CannotOpen, match="k0"):  # found at start-up, not at first use
            await vault.seal_plaintext()
    finally:
        await db.close()


def test_secrets_keyring_wins_over_the_file(tmp_path: Path) -> None:
    file_key, env_key = Key.generate("k1"), Key.generate("k7")
    (tmp_path / "keyring").write_text(file_key.entry() + "\n")
    assert KeySource(None, tmp_path / "keyring").for_sealing().ids == ["k1"]
    ring = KeySource(env_key.entry(), tmp_path / "keyring").for_sealing()
    assert isinstance(ring, Keyring) and ring.ids == ["k7"]
    assert "k7" not in repr(KeySource(env_key.entry(), tmp_path / "keyring"))
