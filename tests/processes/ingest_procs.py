"""``python -m bot ingest`` as real processes for the tests: started with the set's settings,
their stdout lines (``ingest standby|leading|streaming <id>``) timed as they arrive, killed with
SIGKILL; and small reads of the shared PostgreSQL database."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from bot.processes.compose import asyncpg_dsn
from tests.processes.procs import live_set_env
from tests.simproc import SimProcess

#: What a test waits for a process at most (a busy 2-core machine starts Python slowly).
START_TIMEOUT = 60.0


def ingest_env(sim: SimProcess, url: str, data: Path, **extra: str) -> dict[str, str]:
    """The set's settings: PostgreSQL, live on the simulator process (ingest never calls
    Telegram)."""
    return live_set_env(url, data, sim.rest_url, sim.ws_url, keys=None, **extra)


class IngestProcess:
    """One ``python -m bot ingest``; ``lines`` holds (monotonic time, line) as they came."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[tuple[float, str]] = []
        self._new = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        out = self.log.open("w")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "ingest",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=out,
        )
        out.close()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append((time.monotonic(), line.decode().strip()))
            self._new.set()
        self._new.set()

    async def wait_line(self, word: str, timeout: float = START_TIMEOUT) -> float:
        """When the line ``ingest <word> …`` came (waits for it)."""
        async with asyncio.timeout(timeout):
            while True:
                for at, line in self.lines:
                    if line.split()[:2] == ["ingest", word]:
                        return at
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"ingest exited {self.proc.returncode}:\n{self.tail()}")
                self._new.clear()
                await self._new.wait()

    def said(self, word: str) -> bool:
        return any(line.split()[:2] == ["ingest", word] for _, line in self.lines)

    def kill(self) -> float:
        """SIGKILL now; when it was sent."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return time.monotonic()

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    async def stop(self) -> int | None:
        """SIGTERM (graceful), SIGKILL after 20 s; the exit code."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await self.wait(20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader
        return self.proc.returncode

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text()[-n:] if self.log.exists() else ""


class Pg:
    """Reads (and test-only DDL) on the set's database over one asyncpg connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, url: str) -> Pg:
        return cls(await asyncpg.connect(asyncpg_dsn(url)))

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return list(await self.conn.fetch(sql, *args))

    async def value(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchval(sql, *args)

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)

    async def close(self) -> None:
        await self.conn.close()


async def until(check: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``await check()`` until it is truthy; its value. Fails saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(every)
