"""Shared fixtures: a running simulator on a free port and fresh accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.sim import Simulator
from tests.keys import KeyPair, new_keypair


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fresh in-process simulator (fast ticks) serving HTTP and WebSocket on a free port."""
    async with Simulator(seed=7, tick_interval=0.05, publish_interval=0.2) as s:
        yield s


@pytest.fixture
def keys() -> KeyPair:
    return new_keypair()


class Control:
    """The simulator's control API over HTTP, as a test or a demo uses it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = await self.http.post(f"/_sim/{path}", json=body or {})
        r.raise_for_status()
        return r.json()

    async def state(self) -> dict[str, Any]:
        r = await self.http.get("/_sim/state")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    async def account(self, api_key: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self.state())["accounts"][api_key]
        return data

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[Control]:
    c = Control(sim.rest_url)
    yield c
    await c.close()
