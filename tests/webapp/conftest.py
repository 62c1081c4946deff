"""The bot live against a quiet simulator, with its dashboard served on a free port."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sim import Simulator
from bot.webapp.auth import sign
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import TOKEN, BotRunner, live_settings
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

OWNER, VIEWER, STRANGER = 1001, 1002, 6666
PUBLIC_URL = "https://dash.example.org/app/"

# The bot tests' fixtures, shared here.
tg = bot_fixtures.tg
quiet_sim = bot_fixtures.quiet_sim
sim_control = bot_fixtures.sim_control
paper_bot = bot_fixtures.paper_bot


def init_data(user_id: int, *, token: str = TOKEN, age: float = 0) -> str:
    return sign(user_id, f"user{user_id}", token, int(time.time() - age))


def tma(user_id: int, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"tma {init_data(user_id, **kw)}"}


@pytest.fixture
async def dash_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(
        live_settings(
            tg,
            tmp_path,
            quiet_sim,
            keys,
            telegram_allowed_users=f"{OWNER}:owner,{VIEWER}:viewer",
            webapp_url=PUBLIC_URL,
            webapp_port=0,
        )
    )
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def dash(dash_bot: BotRunner) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the dashboard's own address."""
    server = dash_bot.app.bot_data.dashboard
    assert server is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        yield client
