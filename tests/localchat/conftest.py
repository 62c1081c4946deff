"""The local chat as ``python -m bot`` runs it without a token, in this test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.localchat.run import serve
from bot.settings import Settings


def local_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "exchange": "sim",
        "local_chat_port": 0,
        "webapp_port": 0,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "data_dir": tmp_path / "data",
        "sim_tick_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def running(
    settings: Settings, on_app: Callable[[Any], None] | None = None
) -> AsyncIterator[str]:
    """Serve the local chat until the block ends; yields the page URL. ``on_app`` receives
    the bot's ``Application`` (its services, the paper simulator) once it is built."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop, ready.set_result, on_app))
    waiting: set[asyncio.Future[Any]] = {task, ready}
    done, _ = await asyncio.wait(waiting, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # start-up failed: raise its error here
    assert ready in done, "the local chat did not start within 30 s"
    try:
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def chat_url(tmp_path: Path) -> AsyncIterator[str]:
    async with running(local_settings(tmp_path)) as url:
        yield url
