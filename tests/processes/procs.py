"""Starting :mod:`tests.processes.child` as a real OS process and reading what it says."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.crash.harness import ALICE, TOKEN, clean_env
from tests.keys import KeyPair, new_keypair


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


def live_set_env(
    db_url: str,
    data: Path,
    rest_url: str,
    ws_url: str,
    *,
    keys: KeyPair | None = None,
    telegram_url: str = "http://127.0.0.1:9/bot",
    token: str = TOKEN,
    **extra: str,
) -> dict[str, str]:
    """A process of the set's environment: PostgreSQL at ``db_url``, live on the simulator at
    ``rest_url``/``ws_url`` with ``keys`` (new ones by default), Telegram at ``telegram_url``
    (the default refuses connections: for a process that never calls Telegram) with ``token``
    (the fake Bot API's)."""
    keys = keys or new_keypair()
    return {
        **clean_env(),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": telegram_url,
        "TELEGRAM_ALLOWED_USERS": str(ALICE),
        "TRADING_MODE": "live",
        "EXCHANGE": "backpack",
        "BACKPACK_API_KEY": keys.api_key,
        "BACKPACK_API_SECRET": keys.api_secret,
        "BACKPACK_API_URL": rest_url,
        "BACKPACK_WS_URL": ws_url,
        "DATABASE_URL": db_url,
        "DATA_DIR": str(data),
        "LOG_LEVEL": "INFO",
        **extra,
    }
