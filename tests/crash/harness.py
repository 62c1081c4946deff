"""Real processes for the crash tests: ``python -m bot`` (and ``python -m bot.sim``), SIGKILLed.

The bot runs as a child process against the fake Telegram server (in the test's event loop)
and, in live mode, against a simulator process; in paper mode its simulator is in-process
(exchange API only, no control API) and found from the bot's log line. The test reads the
bot's SQLite database directly (read-only) to check the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.simproc import SimProcess, start_sim

TOKEN = "123456789:AAE-crash-test-token"
ALICE = 1001
START_TIMEOUT = 30.0
PAPER_URL = re.compile(r"paper exchange \(simulator\) at (http://[0-9.:]+)")


def clean_env() -> dict[str, str]:
    drop = ("TELEGRAM_", "BACKPACK_", "TRADING_", "EXCHANGE", "DATABASE_", "BOT_CRASH", "BOT_SIM")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def bot_env(
    tg: FakeTelegram,
    tmp_path: Path,
    *,
    keys: KeyPair | None = None,
    sim_url: str = "",
    **extra: str,
) -> dict[str, str]:
    """The environment of ``python -m bot`` for a test: paper on ``EXCHANGE=sim``, or live
    against the simulator at ``sim_url`` with ``keys``; ``extra`` settings on top."""
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": f"{tg.url}/bot",
        "TELEGRAM_ALLOWED_USERS": str(ALICE),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "MAX_ORDER_NOTIONAL": "20000",
        "TRADING_MODE": "paper",
        "EXCHANGE": "sim",
    }
    if keys is not None:
        env |= {
            "TRADING_MODE": "live",
            "EXCHANGE": "backpack",
            "BACKPACK_API_KEY": keys.api_key,
            "BACKPACK_API_SECRET": keys.api_secret,
            "BACKPACK_API_URL": sim_url,
            "BACKPACK_WS_URL": sim_url.replace("http", "ws", 1) + "/ws",
        }
    return env | extra


class BotProcess:
    """One run of ``python -m bot``; ``start`` returns once start-up (incl. recovery) is done."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(
        self,
        tg: FakeTelegram,
        crash_at: str | None = None,
        sim_fault: dict[str, Any] | None = None,
    ) -> None:
        """Start the bot; ``sim_fault``: a fault its paper engine starts with (BOT_SIM_FAULT)."""
        env = {**clean_env(), **self.env}
        if crash_at is not None:
            env["BOT_CRASH_AT"] = crash_at
        if sim_fault is not None:
            env["BOT_SIM_FAULT"] = json.dumps(sim_fault)
        menus = _menus(tg)
        with self.log.open("a") as fh:
            fh.write(f"\n=== start (crash_at={crash_at}) ===\n")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            cwd=str(self.log.parent),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self.log.open("a"),
        )
        # setMyCommands is post_init's last call: recovery has run by then.
        waiter = asyncio.ensure_future(tg.wait_for(lambda: _menus(tg) > menus, START_TIMEOUT))
        died = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({waiter, died}, return_when=asyncio.FIRST_COMPLETED)
        if died in done and waiter not in done:
            waiter.cancel()
            raise AssertionError(f"the bot exited during start-up:\n{self.tail()}")
        died.cancel()
        waiter.result()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def wait_dead(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            await self.kill()

    def paper_url(self) -> str:
        found = PAPER_URL.findall(self.log.read_text())
        assert found, f"no paper exchange line in the log:\n{self.tail()}"
        return str(found[-1])

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text()[-n:]


def _menus(tg: FakeTelegram) -> int:
    return sum(1 for name, _ in tg.calls if name == "setMyCommands")


@contextlib.asynccontextmanager
async def sim_process(seed: int = 3) -> AsyncIterator[SimProcess]:
    """``python -m bot.sim`` as its CLI contract starts it, stopped on the way out."""
    sim = await start_sim(seed)
    try:
        yield sim
    finally:
        await sim.stop()


@dataclass(frozen=True)
class JournalRow:
    token: str
    leg: int
    client_id: int
    status: str
    order_id: str | None
    executed_quantity: str | None
    kind: str
    origin: str | None


class Db:
    """Read-only look at the bot's SQLite database (WAL: readers never block the bot)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return list(con.execute(sql, args).fetchall())
        finally:
            con.close()

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM app_meta WHERE key = ?", key)
        return str(rows[0][0]) if rows else None

    def confirmation(self, token: str) -> str | None:
        rows = self._query("SELECT status FROM trade_confirmations WHERE token = ?", token)
        return str(rows[0][0]) if rows else None

    def journal(self, token: str | None = None) -> list[JournalRow]:
        sql = (
            "SELECT token, leg, client_id, status, order_id, executed_quantity, kind, origin "
            "FROM order_journal"
        )
        rows = (
            self._query(sql + " WHERE token = ? ORDER BY id", token)
            if token is not None
            else self._query(sql + " ORDER BY id")
        )
        return [JournalRow(*r) for r in rows]

    def unsettled(self) -> int:
        executing = self._query("SELECT count(*) FROM trade_confirmations WHERE status='executing'")
        sending = self._query("SELECT count(*) FROM order_journal WHERE status='sending'")
        return int(executing[0][0]) + int(sending[0][0])

    def strategy_positions(self) -> dict[str, str]:
        rows = self._query("SELECT symbol, perp_quantity FROM strategy_positions")
        return {str(s): str(q) for s, q in rows}

    def approvals(self) -> list[tuple[str, str]]:
        return [
            (str(t), str(s)) for t, s in self._query("SELECT token, status FROM strategy_approvals")
        ]
