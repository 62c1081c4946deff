"""Fixtures for the trading service: a quiet simulator, a client, a migrated SQLite database."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.exchange.client import BackpackAPI
from bot.services.orders.confirm import TradingConfig, TradingService
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.trading import TradingStore
from tests.keys import KeyPair


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Simulator]:
    """A simulator whose prices move only when a test moves them."""
    async with Simulator(seed=7, random_walk=False, tick_interval=0.05, publish_interval=0.2) as s:
        yield s


@pytest.fixture
async def api(quiet_sim: Simulator, keys: KeyPair) -> AsyncIterator[BackpackAPI]:
    async with BackpackAPI(
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        base_url=quiet_sim.rest_url,
        ws_url=quiet_sim.ws_url,
        logger=logging.getLogger("test.client"),
    ) as client:
        yield client


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.start()
    yield database
    await database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def config() -> TradingConfig:
    return TradingConfig(mode="paper", max_order_notional=Decimal(20000))


@pytest.fixture
def trading(
    api: BackpackAPI, db: Database, clock: FakeClock, config: TradingConfig
) -> TradingService:
    return TradingService(api, TradingStore(db), config, clock=clock)
