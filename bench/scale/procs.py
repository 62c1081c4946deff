"""The processes of the scale bench: started, watched, killed, measured.

Every process writes its stdout and stderr to its own file in the run's directory; one that
dies without being killed fails the run with :class:`ProcessDied`, whose message names it and
quotes the last lines it wrote.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Lines of a dead process's output quoted in the error.
TAIL = 25


class ProcessDied(RuntimeError):
    """A process of the set exited on its own."""


def tail(path: Path, lines: int = TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def rss_mb(pid: int) -> float | None:
    """Resident set of ``pid`` in MB (``VmRSS`` of ``/proc/<pid>/status``); None once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass
class Proc:
    """One child process, its name in the set (``web-1``, ``worker-2``, ``ingest-a`` …)."""

    name: str
    argv: list[str]
    log: Path
    proc: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    killed: bool = False
    rss_peak: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def check(self) -> None:
        """Raise :class:`ProcessDied` if the process exited and nobody killed it."""
        if not self.alive and not self.killed:
            raise ProcessDied(
                f"{self.name} (pid {self.pid}, {' '.join(self.argv[1:])}) exited with "
                f"{self.proc.returncode} — its last output ({self.log}):\n{tail(self.log)}"
            )

    def sample_rss(self) -> float | None:
        mb = rss_mb(self.pid) if self.alive else None
        if mb is not None:
            self.rss_peak = max(self.rss_peak, mb)
        return mb

    def kill(self) -> float:
        """SIGKILL now; returns the monotonic time of the kill."""
        self.killed = True
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)
        return time.monotonic()

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if not self.alive:
            return
        self.killed = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


@dataclass
class ProcessSet:
    """The children of one run, in start order; :meth:`stop_all` ends them in reverse."""

    workdir: Path
    env: Mapping[str, str]
    procs: list[Proc] = field(default_factory=list)

    async def start(
        self, name: str, *args: str, extra_env: Mapping[str, str] | None = None
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        out = log.open("wb")
        argv = [sys.executable, *args]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**self.env, **(extra_env or {})},
            cwd=self.workdir,
            stdout=out,
            stderr=out,
            stdin=asyncio.subprocess.DEVNULL,
        )
        out.close()
        p = Proc(name, argv, log, proc)
        self.procs.append(p)
        return p

    def check(self) -> None:
        """Fail loudly when any process died on its own."""
        for p in self.procs:
            p.check()

    def by_pid(self, pid: int) -> Proc | None:
        return next((p for p in self.procs if p.pid == pid), None)

    def named(self, prefix: str) -> list[Proc]:
        return [p for p in self.procs if p.name.startswith(prefix) and p.alive]

    def sample_rss(self) -> None:
        for p in self.procs:
            p.sample_rss()

    async def stop_all(self) -> None:
        for p in reversed(self.procs):
            await p.stop()


async def wait_for_line(log: Path, needle: str, proc: Proc, limit: float) -> str:
    """The first line of ``log`` holding ``needle``; polls the file for ``limit`` s, failing
    at once if ``proc`` dies."""
    deadline = time.monotonic() + limit
    while True:
        try:
            for line in tail(log, 1000).splitlines():
                if needle in line:
                    return line
        except FileNotFoundError:
            pass
        proc.check()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{proc.name} wrote no {needle!r} within {limit:.0f} s — its output:\n{tail(log)}"
            )
        await asyncio.sleep(0.1)


def clean_env() -> dict[str, str]:
    """This environment without any bot setting (a developer's .env must not leak in)."""
    prefixes = ("TELEGRAM_", "BACKPACK_", "WEBHOOK_", "DATABASE_", "SECRETS_", "HEDGE_", "SIM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    return env
