"""Fixtures for the client's tests: a BackpackAPI with a fresh account on the simulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.exchange.client import BackpackAPI
from bot.sim import Simulator
from tests.keys import KeyPair


@pytest.fixture
async def api(sim: Simulator, keys: KeyPair) -> AsyncIterator[BackpackAPI]:
    async with BackpackAPI(
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        base_url=sim.rest_url,
        ws_url=sim.ws_url,
        logger=logging.getLogger("test.client"),
    ) as client:
        yield client
