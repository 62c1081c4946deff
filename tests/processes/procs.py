"""Starting :mod:`tests.processes.child` as a real OS process and reading what it says."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    said: list[str] = field(default_factory=list)

    async def line(self, timeout: float = 20.0) -> str:
        """The next line it says (fails after ``timeout`` seconds, or when it died)."""
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert raw, f"the child ended (exit {self.proc.returncode}) after saying {self.said}"
        text = raw.decode().strip()
        self.said.append(text)
        return text

    async def until(self, prefix: str, timeout: float = 20.0) -> str:
        """Read lines until one starts with ``prefix``; that line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            text = await self.line(max(0.01, deadline - loop.time()))
            if text.startswith(prefix):
                return text

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    async def reap(self) -> None:
        self.kill()
        await self.proc.wait()


async def child(*args: str) -> Child:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.processes.child", *args, stdout=asyncio.subprocess.PIPE
    )
    return Child(proc)
