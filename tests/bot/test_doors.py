"""The doors of a running bot, tried from outside as ``make run`` starts it (``python -m bot``
in a directory with a ``.env``), in paper mode behind a webhook, at ``LOG_LEVEL=DEBUG``:

* the paper simulator's port serves the exchange API and no ``/_sim/*`` control route;
* a 5 MB webhook body is refused before it is read (only its headers are ever sent);
* the webhook listens on 127.0.0.1 unless told otherwise;
* ``DATA_DIR`` is 0700 and every file in it 0600, including what an older version left;
* no secret reaches the log, even with every library logging at DEBUG.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import socket
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.bot.conftest import ALICE, TOKEN, command_update
from tests.bot.test_webhook import HEADER, _free_port, _listening
from tests.fakes.telegram import FakeTelegram
from tests.keys import open_paper_secret

PAPER_URL = re.compile(r"paper exchange \(simulator\) at (http://[0-9.:]+)")
WEBHOOK_SECRET = "doors-test-webhook-secret-" + "x" * 20
API_SECRET = base64.b64encode(b"doors-test-api-secret-32-bytes!!").decode()
PASSWORD = "doors-test-local-chat-password"
FIVE_MB = 5 * 1024 * 1024


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    cwd: Path
    port: int
    log: Path

    def text(self) -> str:
        """What the process wrote: its console (stderr) and its log file in ``DATA_DIR``."""
        log_file = self.cwd / "data" / "bot.log"
        return self.log.read_text() + (log_file.read_text() if log_file.exists() else "")


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Running]:
    port = _free_port()
    # What an older version left: a world-readable directory and file.
    (tmp_path / "data").mkdir(mode=0o755)
    old = tmp_path / "data" / "left-by-an-old-version.txt"
    old.write_text("old")
    old.chmod(0o644)
    (tmp_path / "data").chmod(0o755)
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                f"TELEGRAM_BOT_TOKEN={TOKEN}",
                f"TELEGRAM_API_URL={tg.url}/bot",
                f"TELEGRAM_ALLOWED_USERS={ALICE}",
                "EXCHANGE=sim",
                "TRADING_MODE=paper",
                "SIM_TICK_SECONDS=0.2",
                "LOG_LEVEL=DEBUG",
                f"WEBHOOK_URL=http://127.0.0.1:{port}/",
                f"WEBHOOK_PORT={port}",
                f"WEBHOOK_SECRET={WEBHOOK_SECRET}",
                f"BACKPACK_API_SECRET={API_SECRET}",
                f"LOCAL_CHAT_PASSWORD={PASSWORD}",
                "",
            ]
        )
    )
    drop = ("TELEGRAM_", "BACKPACK_", "TRADING_", "EXCHANGE", "DATABASE_", "DATA_DIR", "WEBHOOK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdout=err, stderr=err
        )
    running = Running(proc, tmp_path, port, log)
    try:
        await tg.wait_for(lambda: any(m == "setMyCommands" for m, _ in tg.calls), 30)
        await tg.wait_for(lambda: _listening(port), 10)
        yield running
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_the_doors_of_a_running_paper_bot(bot: Running, tg: FakeTelegram) -> None:
    found = PAPER_URL.findall(bot.text())
    assert found, bot.text()[-3000:]
    paper = found[-1]

    # 1. The paper simulator: the exchange API, and no control API for a hostile page to use.
    async with httpx.AsyncClient(base_url=paper, timeout=10) as http:
        assert (await http.get("/api/v1/markets")).status_code == 200
        move = '{"symbol": "BTC_USDC_PERP", "price": "1"}'
        for path in ("price", "fault", "reset", "settle", "funding"):
            for ctype in ("text/plain", "application/json"):
                r = await http.post(f"/_sim/{path}", content=move, headers={"Content-Type": ctype})
                assert r.status_code == 404, (path, ctype)
        assert (await http.get("/_sim/state")).status_code == 404

    # 2. A 5 MB webhook body, with the right secret: refused from its headers alone.
    assert await _big_body_refused(bot.port) == 400

    # 3. The webhook listens on loopback only (WEBHOOK_LISTEN's default).
    assert _listening_on(bot.port) == ["127.0.0.1"]

    # The bot still answers a real update.
    async with httpx.AsyncClient(timeout=10) as http:
        ok = await http.post(
            f"http://127.0.0.1:{bot.port}/",
            json=command_update(1, "/whoami"),
            headers={HEADER: WEBHOOK_SECRET},
        )
        assert ok.status_code == 200
    await tg.next_message(ALICE, "Your role", timeout=15)

    # 4. Every file in DATA_DIR (the database, its WAL, the paper state) 0600, the directory 0700.
    data = bot.cwd / "data"
    assert _mode(data) == 0o700
    files = {p.name: _mode(p) for p in data.rglob("*") if p.is_file()}
    assert {"bot.db", "bot.db-wal", "bot.db-shm", "left-by-an-old-version.txt"} <= set(files)
    assert any(name.startswith("paper-sim") for name in files), files
    assert set(files.values()) == {0o600}, files

    # 5. No secret in a DEBUG log of start-up and traffic (the paper key is read and written).
    bot.proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(bot.proc.wait(), 30)
    text = bot.text()
    assert "DEBUG" in text and "aiosqlite" not in text
    sealed = _meta(data / "bot.db", "paper_secret")
    paper_secret = open_paper_secret(data, sealed)
    assert paper_secret not in sealed
    for secret in (WEBHOOK_SECRET, TOKEN.split(":")[1], API_SECRET, PASSWORD, paper_secret):
        assert secret not in text
    assert set(files.values()) == {0o600}


async def _big_body_refused(port: int) -> int:
    """POST headers announcing 5 MB and only 64 KB of body; the status the server answers
    with before the rest would have been sent (a server reading it whole never answers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"{HEADER}: {WEBHOOK_SECRET}\r\nContent-Length: {FIVE_MB}\r\n\r\n"
        )
        writer.write(head.encode() + b"{" + b" " * (64 * 1024))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        return int(status.split()[1])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _listening_on(port: int) -> list[str]:
    """The local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _meta(db: Path, key: str) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (value,) = con.execute("SELECT value FROM app_meta WHERE key = ?", (key,)).fetchone()
        return str(value)
    finally:
        con.close()
