"""Keys in the chat and in the database, as a user and an operator meet them.

A message that looks like a key is deleted before any handler reads it, whoever sends it and
wherever, and the sender is told why in one message that never repeats it; nothing of it reaches
the log, even at DEBUG. The paper account's key is sealed in the database from the first start,
and a key an older version stored in clear is sealed at the next start, the same key.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.keyring.ring import key_id_of
from bot.localchat.messages import BotApiError
from bot.logs import configure_logging
from bot.storage.db import Database
from tests.bot.conftest import ALICE, BOB, MALLORY, BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram
from tests.keys import open_paper_secret

_RANDOM = random.Random(2026)
ED25519 = base64.b64encode(_RANDOM.randbytes(32)).decode()
PRIVATE = "0x" + _RANDOM.randbytes(32).hex()
API = base64.urlsafe_b64encode(_RANDOM.randbytes(33)).decode()
GROUP = -100777


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The process's log at DEBUG, as ``LOG_LEVEL=DEBUG`` writes it."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging("DEBUG", buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def deleted(tg: FakeTelegram, message_id: int) -> bool:
    return message_id not in tg.server.store.messages and any(
        method == "deleteMessage" and int(p["message_id"]) == message_id for method, p in tg.calls
    )


async def test_a_pasted_key_is_deleted_and_the_user_told(
    tg: FakeTelegram, tmp_path: Path, debug_log: io.StringIO
) -> None:
    runner = BotRunner(make_settings(tg, tmp_path, telegram_allowed_groups=[GROUP]))
    await runner.start()
    try:
        cases = [
            (ALICE, ALICE, f"here is my secret {ED25519}", "a secret key (base64)"),
            (BOB, BOB, PRIVATE, "a private key"),
            (MALLORY, MALLORY, API, "an API secret"),  # a stranger's key is removed as well
            (ALICE, GROUP, f"/buy BTC 0.01 {ED25519}", "a secret key (base64)"),
        ]
        start = len(tg.messages)
        for user, chat, text, kind in cases:
            mark = len(tg.messages)
            sent = await tg.send(user, text, chat_id=None if chat == user else chat)
            told = await tg.next_message(chat, "looked like", after=mark)
            assert deleted(tg, sent), text
            assert f"I deleted your message: it looked like {kind}" in told.text
            assert "revoke it on the exchange" in told.text
        # An edit that turns a message into a key: deleted too.
        mark = len(tg.messages)
        first = await tg.send(ALICE, "my key is coming")
        await tg.next_message(ALICE, "I answer", after=mark)
        await tg.edit(ALICE, first, f"my key is {ED25519}")
        await tg.next_message(ALICE, "looked like", after=mark)
        assert deleted(tg, first)
        # The bot still works normally afterwards; by then every answer to the keys is in.
        await tg.ask(ALICE, "/whoami", "Your role")
        await tg.ask(BOB, "/whoami", "Your role")
        answers = {
            chat: [m.text for m in tg.messages[start:] if m.chat_id == chat]
            for chat in (ALICE, BOB, MALLORY, GROUP)
        }
        # one message per key: no order, no refusal, no "edits are ignored"
        kinds = {"🔐 I deleted your message": "key", "You are user": "whoami", "I answer": "hint"}

        def sort(text: str) -> str:
            return next((k for p, k in kinds.items() if text.startswith(p)), text)

        said = [[sort(t) for t in a] for a in answers.values()]
        assert said == [["key", "hint", "key", "whoami"], ["key", "whoami"], ["key"], ["key"]]
    finally:
        await runner.stop()
    log = debug_log.getvalue()
    assert "looked like a secret key (base64)" in log and "DEBUG" in log
    texts = [m.text for m in tg.messages] + [str(p) for _, p in tg.calls]
    for secret in (ED25519, PRIVATE, API, PRIVATE[2:]):
        assert secret not in log
        assert all(secret not in t for t in texts)


async def test_where_the_bot_may_not_delete_it_asks_the_sender_to(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    record = tg.server.api.gate

    def no_right_to_delete(method: str, params: dict[str, Any]) -> BotApiError | None:
        if method == "deleteMessage":
            return BotApiError(400, "Bad Request: message can't be deleted")
        return record(method, params) if record is not None else None

    tg.server.api.gate = no_right_to_delete
    runner = BotRunner(make_settings(tg, tmp_path, telegram_allowed_groups=[GROUP]))
    await runner.start()
    try:
        sent = await tg.send(ALICE, f"oops {PRIVATE}", chat_id=GROUP)
        told = await tg.next_message(GROUP, "looked like a private key")
        assert "I could not delete it here" in told.text and "delete it yourself" in told.text
        assert PRIVATE not in told.text and PRIVATE[2:] not in told.text
        assert sent in tg.server.store.messages
    finally:
        await runner.stop()


def _raw(path: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


def _meta(path: Path, key: str) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (value,) = con.execute("SELECT value FROM app_meta WHERE key = ?", (key,)).fetchone()
        return str(value)
    finally:
        con.close()


async def test_the_paper_key_is_sealed_from_the_first_start(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    runner = BotRunner(make_settings(tg, tmp_path))
    await runner.start()
    try:
        await tg.ask(ALICE, "/balance", "USDC")
    finally:
        await runner.stop()
    sealed = _meta(tmp_path / "bot.db", "paper_secret")
    assert key_id_of(sealed) == "k1"
    secret = open_paper_secret(tmp_path / "data", sealed)
    assert secret.encode() not in _raw(tmp_path / "bot.db")
    assert (tmp_path / "data" / "keyring").stat().st_mode & 0o777 == 0o600


async def test_a_key_stored_in_clear_is_sealed_at_start_up(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    older = base64.b64encode(bytes(SigningKey.generate())).decode()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await db.start()
    await db.set_meta("paper_secret", older)  # what the previous version left
    await db.close()
    assert older.encode() in _raw(tmp_path / "bot.db")

    runner = BotRunner(make_settings(tg, tmp_path))
    await runner.start()
    try:
        await tg.ask(ALICE, "/balance", "USDC")  # the same paper account still answers
        assert runner.services.account_api is not None
    finally:
        await runner.stop()
    sealed = _meta(tmp_path / "bot.db", "paper_secret")
    assert open_paper_secret(tmp_path / "data", sealed) == older  # the same key, sealed
    assert older.encode() not in _raw(tmp_path / "bot.db")
