"""Shared fixtures: a running simulator on a free port and fresh accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx
import pytest

from bot.sim import Simulator
from bot.sim.control import TOKEN_HEADER
from tests.keys import KeyPair, new_keypair


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fresh in-process simulator (fast ticks) serving HTTP and WebSocket on a free port."""
    async with Simulator(seed=7, tick_interval=0.05, publish_interval=0.2) as s:
        yield s


@pytest.fixture
def keys() -> KeyPair:
    return new_keypair()


class ControlTarget(Protocol):
    """A simulator with a control API: in-process :class:`Simulator` or a ``SimProcess``."""

    @property
    def rest_url(self) -> str: ...

    @property
    def control_token(self) -> str | None: ...


def control_headers(sim: ControlTarget) -> dict[str, str]:
    """What every ``/_sim/*`` request must carry besides JSON and a loopback ``Host``."""
    assert sim.control_token is not None, "this simulator serves no control API"
    return {TOKEN_HEADER: sim.control_token}


class Control:
    """The simulator's control API over HTTP, as a test or a demo uses it."""

    def __init__(self, sim: ControlTarget) -> None:
        self.http = httpx.AsyncClient(
            base_url=sim.rest_url, timeout=10, headers=control_headers(sim)
        )

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
    c = Control(sim)
    yield c
    await c.close()
