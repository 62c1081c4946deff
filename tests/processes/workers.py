"""Real ``python -m bot worker`` processes for the worker tests, on one PostgreSQL database,
against the simulator process and the fake Bot API; and SQL looks at what they did."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.storage.db import Database
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.processes.procs import live_set_env

READY_TIMEOUT = 60.0


def worker_env(
    tg: FakeTelegram, tmp_path: Path, pg_url: str, keys: KeyPair, sim_url: str, **extra: str
) -> dict[str, str]:
    """A worker's environment: live against the simulator at ``sim_url`` with ``keys``."""
    ws_url = sim_url.replace("http", "ws", 1) + "/ws"
    return live_set_env(
        pg_url,
        tmp_path / "data",
        sim_url,
        ws_url,
        keys=keys,
        telegram_url=f"{tg.url}/bot",
        MAX_ORDER_NOTIONAL="20000",
        **extra,
    )


class WorkerProc:
    """One ``python -m bot worker``; :meth:`start` returns once it says ``worker ready``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.id = ""

    async def start(self) -> None:
        with self.log.open("a") as fh:
            fh.write("\n=== start ===\n")
        with self.log.open("a") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "worker",
                env=self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no 'worker ready' in {READY_TIMEOUT} s:\n{self.tail()}"
            raw = await asyncio.wait_for(self.proc.stdout.readline(), left)
            assert raw, f"the worker exited during start-up:\n{self.tail()}"
            words = raw.decode().split()
            if words[:2] == ["worker", "ready"]:
                self.id = words[2]
                return

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_dead(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it will not stop); its exit code."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                await self.kill()
        return self.proc.returncode

    def tail(self, n: int = 6000) -> str:
        return self.log.read_text()[-n:] if self.log.exists() else ""


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll ``check`` until it is true; the seconds it took (fails after ``timeout``)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.execute(text(sql), params)).all())


async def jobs(db: Database, task: str) -> list[Any]:
    """``task``'s jobs: (id, status, args, attempts), oldest first."""
    return await rows(
        db,
        "SELECT id, status::text, args, attempts FROM procrastinate_jobs "
        "WHERE task_name = :t ORDER BY id",
        t=task,
    )


async def runs(db: Database, task: str) -> list[tuple[int, datetime, datetime | None]]:
    """Each run of ``task``'s jobs: (job id, started, ended or None while running), by start."""
    found = await rows(
        db,
        "SELECT e.job_id, e.type::text, e.at FROM procrastinate_events e "
        "JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.task_name = :t "
        "ORDER BY e.at, e.id",
        t=task,
    )
    out: list[tuple[int, datetime, datetime | None]] = []
    open_: dict[int, datetime] = {}
    for job_id, kind, at in found:
        if kind == "started":
            open_[job_id] = at
        elif job_id in open_ and kind in ("succeeded", "failed", "deferred_for_retry", "aborted"):
            out.append((job_id, open_.pop(job_id), at))
    out += [(job_id, at, None) for job_id, at in open_.items()]
    return sorted(out, key=lambda r: r[1])


def arg(row_args: Any, name: str) -> Any:
    data = row_args if isinstance(row_args, dict) else json.loads(row_args)
    return data.get(name)
