"""The outbox table drained by 1, 2 and 3 sender processes: messages a second at the Bot API.

Each round: a fresh PostgreSQL database holds 300 notes for 100 private chats (3 each, none
merging); N ``Sender`` processes (each its own engine and ``Bot``) send them to the local chat's
Bot API (:class:`bot.localchat.server.LocalChatServer`) over HTTP; arrivals are timed there.
Under Telegram's limits (30 a second for the bot, 1 a second per chat) the bot-wide limit is
what binds, whatever N; with the overall limit lifted (1000 a second) the figure shows what the
senders themselves can do (a chat still gets one a second).

``python -m bench outbox`` — PostgreSQL: ``--database-url postgresql+asyncpg://…/postgres``, or
Debian's server started in a temporary directory (``/usr/lib/postgresql/*/bin``).
``python -m bench.outbox --sender URL API_URL OVERALL`` is one sender process (used by the
bench itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import SystemClock
from bot.localchat.server import LocalChatServer
from bot.localchat.store import Event
from bot.services.notices.limits import Limits
from bot.services.notices.outbox import Note
from bot.services.notices.senders import Sender
from bot.services.notices.table import TableOutbox
from bot.storage.alerts import NotifySettings
from bot.storage.db import Database
from jobs.outbox import TelegramMarkupCodec, TelegramTransport

TOKEN = "123456789:bench-outbox-token"
CHATS = 100
PER_CHAT = 3
ROOT = Path(__file__).resolve().parents[1]


async def _loud(user_id: int) -> NotifySettings:
    return NotifySettings(user_id, user_id)


async def _noted(_rest: str, _message_id: int) -> None:
    return None


async def sender(url: str, api_url: str, overall: int) -> None:
    """One sender process until SIGTERM."""
    db = Database(url)
    async with Bot(TOKEN, base_url=api_url, request=HTTPXRequest(connection_pool_size=10)) as bot:
        s = Sender(
            db,
            SystemClock(),
            TelegramTransport(bot),
            _loud,
            TelegramMarkupCodec(),
            {"n": _noted},
            limits=Limits(overall=overall),
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, s.stop)
        print("ready", flush=True)
        await s.run()
    await db.close()


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    """A throwaway Debian PostgreSQL; the URL of its ``postgres`` database."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL is not installed: pass --database-url")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="bench-outbox-pg-"))
    wrap = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if wrap:
        shutil.chown(base, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    _run([*wrap, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
    ctl = [*wrap, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run([*ctl, "-o", opts, "start"])
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([*ctl, "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


async def _fresh(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = Database(server_url)
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.close()
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    await db.start()
    outbox = TableOutbox(db, SystemClock(), TelegramMarkupCodec())
    for i in range(CHATS * PER_CHAT):
        chat = 10_000 + i % CHATS
        outbox.send(Note(chat, chat, f"note {i}", hook=f"n:{i}"))
    await outbox.stop()
    await db.close()
    return url


class Arrivals:
    """Messages from the bot reaching the Bot API, timed; ``done`` once ``expect`` arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.expect = 0
        self.done = asyncio.Event()

    def reset(self, expect: int) -> None:
        self.times, self.expect = [], expect
        self.done.clear()

    def __call__(self, event: Event) -> None:
        if event.kind == "message" and event.message is not None and event.message.from_bot:
            self.times.append(asyncio.get_running_loop().time())
            if len(self.times) >= self.expect:
                self.done.set()


async def _round(
    server_url: str, chat: LocalChatServer, arrivals: Arrivals, senders: int, overall: int
) -> str:
    url = await _fresh(server_url)
    total = CHATS * PER_CHAT
    arrivals.reset(total)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["-m", "bench.outbox", "--sender", url, chat.api_url, str(overall)]
    procs = []
    for _ in range(senders):
        p = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        assert p.stdout is not None
        await p.stdout.readline()
        procs.append(p)
    await arrivals.done.wait()
    for p in procs:
        p.terminate()
    await asyncio.gather(*(p.wait() for p in procs))
    times = sorted(arrivals.times[:total])
    took = times[-1] - times[0]
    busiest = _busiest(times)
    limit = "30/s (Telegram's)" if overall == 30 else f"{overall}/s (lifted)"
    return (
        f"{senders} sender process{'es' if senders > 1 else '  '}, overall {limit:<18}"
        f"{total / took:6.1f} msg/s   busiest second {busiest:3d}"
    )


def _busiest(times: list[float]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def bench(server_url: str) -> None:
    arrivals = Arrivals()
    async with LocalChatServer(TOKEN, max_poll_seconds=1.0) as chat:
        chat.store.subscribe(arrivals)
        for overall in (30, 1000):
            for n in (1, 2, 3):
                print(await _round(server_url, chat, arrivals, n, overall), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.outbox")
    parser.add_argument("--database-url")
    opts, _ = parser.parse_known_args()
    if opts.database_url:
        await bench(opts.database_url)
        return
    with _postgres() as url:
        await bench(url)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--sender":
        asyncio.run(sender(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        asyncio.run(main())
