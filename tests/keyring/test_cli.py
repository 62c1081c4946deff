"""``python -m bot keys new`` and ``python -m bot keys rotate`` as an operator runs them.

The operator's path runs as real processes (:func:`keys`); the other cases call the same
``main`` in-process (:func:`run`), which is quicker by the interpreter's start-up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.keyring import cli
from bot.keyring.ring import Keyring, key_id_of
from bot.keyring.source import KeySource
from bot.keyring.vault import PAPER_ACCOUNT, PAPER_HEDGE, STORED, Vault
from bot.storage.db import Database

SECRETS = {PAPER_ACCOUNT: "paper-secret-value-never-printed", PAPER_HEDGE: "hedge-secret-value-2"}


_OURS = ("TELEGRAM_", "BACKPACK_", "SECRETS_", "DATABASE_", "DATA_DIR")


def keys(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot keys <args>`` in its own process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "keys", *args],
        env={
            **clean,
            "DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            **env,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Ran]]:
    """``cli.main(args)`` in this process, with the environment ``keys`` would give it."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's

    def call(*args: str, **env: str) -> Ran:
        for k in list(os.environ):
            if k.startswith(_OURS):
                monkeypatch.delenv(k)
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        code = cli.main(list(args))
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    umask = os.umask(0o022)
    os.umask(umask)
    yield call
    os.umask(umask)  # `keys rotate` sets umask 077 for its process; not for the test run's


def stored(tmp_path: Path, keyring: str) -> dict[str, str | None]:
    async def read() -> dict[str, str | None]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.start()
        try:
            vault = Vault(db, KeySource(keyring, tmp_path / "none"))
            return {item.name: await vault.get(item) for item in STORED}
        finally:
            await db.close()

    return asyncio.run(read())


def raw_values(tmp_path: Path) -> dict[str, str]:
    import sqlite3

    con = sqlite3.connect(tmp_path / "bot.db")
    try:
        return {str(k): str(v) for k, v in con.execute("SELECT key, value FROM app_meta")}
    finally:
        con.close()


def test_new_prints_a_fresh_entry_each_time(tmp_path: Path, run: Callable[..., Ran]) -> None:
    first, second = keys(tmp_path, "new"), run("new")
    assert first.returncode == 0, first.stderr
    entry = first.stdout.strip()
    assert Keyring.parse(entry).ids == ["k1"]
    assert second.stdout.strip() != entry
    assert "SECRETS_KEYRING=k1" in first.stderr
    after = run("new", SECRETS_KEYRING=entry)
    assert Keyring.parse(after.stdout.strip()).ids == ["k2"]
    assert "followed by the keys in use now (k1" in after.stderr
    assert entry.split(":")[1] not in after.stdout + after.stderr  # k1 itself is not repeated
    named = run("new", "--id", "k1", SECRETS_KEYRING=entry)
    assert named.returncode == 2 and "k1 is in the keyring already" in named.stderr
    assert run("spin").returncode == 2
    assert run("new", SECRETS_KEYRING="k1:nonsense").returncode == 2


def test_rotate_reseals_every_stored_secret_and_the_old_key_can_go(
    tmp_path: Path, run: Callable[..., Ran]
) -> None:
    k1 = run("new").stdout.strip()
    k2 = run("new", SECRETS_KEYRING=k1).stdout.strip()
    empty = run("rotate", SECRETS_KEYRING=k1)
    assert empty.returncode == 0 and "nothing to re-seal" in empty.stdout

    async def seed() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.start()
        try:
            for item, secret in SECRETS.items():
                await Vault(db, KeySource(k1, tmp_path / "none")).put(item, secret)
        finally:
            await db.close()

    asyncio.run(seed())
    assert {key_id_of(v) for v in raw_values(tmp_path).values()} == {"k1"}

    # Without k1 the stored secrets cannot be opened: refused, nothing changed.
    before = raw_values(tmp_path)
    refused = keys(tmp_path, "rotate", SECRETS_KEYRING=k2)
    assert refused.returncode == 2
    assert "sealed under key k1, which SECRETS_KEYRING does not hold" in refused.stderr
    assert raw_values(tmp_path) == before

    done = keys(tmp_path, "rotate", SECRETS_KEYRING=f"{k2},{k1}")
    assert done.returncode == 0, done.stderr
    assert "re-sealed 2 of 2 stored secrets; all 2 are now sealed under key k2" in done.stdout
    again = run("rotate", SECRETS_KEYRING=f"{k2},{k1}")
    assert "re-sealed 0 of 2" in again.stdout
    assert {key_id_of(v) for v in raw_values(tmp_path).values()} == {"k2"}
    # k1 dropped: everything still opens.
    got = stored(tmp_path, k2)
    assert got == {item.name: SECRETS.get(item) for item in STORED}
    for proc in (empty, refused, done, again):
        output = proc.stdout + proc.stderr
        assert all(secret not in output for secret in SECRETS.values())
        assert all(k.split(":")[1] not in output for k in (k1, k2))
    data = (tmp_path / "bot.db").read_bytes()
    assert all(secret.encode() not in data for secret in SECRETS.values())
    assert all(v.encode() not in data for v in before.values())  # the k1 copies are gone


def test_rotate_without_a_keyring_seals_with_the_keyring_file(
    tmp_path: Path, run: Callable[..., Ran]
) -> None:
    async def seed() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.start()
        try:
            await db.set_meta(PAPER_ACCOUNT.name, SECRETS[PAPER_ACCOUNT])  # an older version's
        finally:
            await db.close()

    asyncio.run(seed())
    strict = run("rotate", SECRETS_KEYRING_FILE="false")
    assert strict.returncode == 2 and "there is no keyring" in strict.stderr
    assert raw_values(tmp_path)[PAPER_ACCOUNT.name] == SECRETS[PAPER_ACCOUNT]
    done = run("rotate")
    assert "re-sealed 1 of 1" in done.stdout, done.stderr
    assert (tmp_path / "data" / "keyring").stat().st_mode & 0o777 == 0o600
    assert key_id_of(raw_values(tmp_path)[PAPER_ACCOUNT.name]) == "k1"


def test_rotate_reseals_desks_keys_too(tmp_path: Path, run: Callable[..., Ran]) -> None:
    from bot.keyring.desk_keys import DeskKeys

    k1 = run("new").stdout.strip()
    k2 = run("new", SECRETS_KEYRING=k1).stdout.strip()
    fields = {"api_key": "public-key-of-desk-a", "api_secret": "desk-a-secret-never-printed"}

    async def put() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.start()
        try:
            await Vault(db, KeySource(k1, tmp_path / "none")).put(PAPER_ACCOUNT, "paper-sec")
            await DeskKeys(db, KeySource(k1, tmp_path / "none")).put("dA", "backpack", fields, "…")
        finally:
            await db.close()

    async def get(keyring: str) -> dict[str, str] | None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        await db.start()
        try:
            return await DeskKeys(db, KeySource(keyring, tmp_path / "none")).get("dA", "backpack")
        finally:
            await db.close()

    asyncio.run(put())
    done = keys(tmp_path, "rotate", SECRETS_KEYRING=f"{k2},{k1}")
    assert done.returncode == 0, done.stderr
    assert "re-sealed 2 of 2 stored secrets; all 2 are now sealed under key k2" in done.stdout
    assert fields["api_secret"] not in done.stdout + done.stderr
    assert asyncio.run(get(k2)) == fields  # k1 dropped: the desk's keys still open
