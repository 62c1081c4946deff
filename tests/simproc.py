"""The simulator as a separate process (``python -m bot.sim``), as a second venue plays it."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass


@dataclass
class SimProcess:
    proc: asyncio.subprocess.Process
    rest_url: str
    ws_url: str
    control_token: str

    def kill(self) -> None:
        """SIGKILL: the simulator gets no chance to save anything on the way out."""
        if self.proc.returncode is None:
            self.proc.kill()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_sim(seed: int, *extra: str) -> SimProcess:
    """Start ``python -m bot.sim --port 0``; wait for its ``sim ready`` and token lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sim",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        str(seed),
        *extra,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    assert line[:2] == ["sim", "ready"], line
    token = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    assert token[:3] == ["sim", "control", "token"], token
    return SimProcess(proc, line[2], line[3], token[3])


#: ccxt constructor fields for a client of a simulator process: the simulator has no rate limit,
#: so ccxt's client-side throttle (Hyperliquid's info weight: ~1 s a call) would only make a
#: test wait (an /arb scan with filters: ~10 s).
UNTHROTTLED = {"rateLimit": 1}
