"""Starting senders (tasks with their own engines, or OS processes) and an outbox for the
outbox table's tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import Clock, SystemClock
from bot.services.notices.limits import Limits
from bot.services.notices.outbox import SettingsLookup
from bot.services.notices.senders import Hook, Sender
from bot.services.notices.table import TableOutbox
from bot.storage.alerts import NotifySettings
from bot.storage.db import Database
from jobs.outbox import TelegramMarkupCodec, TelegramTransport
from tests.bot.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[3]


async def loud(user_id: int) -> NotifySettings:
    """No quiet hours for anyone."""
    return NotifySettings(user_id, user_id)


@contextlib.asynccontextmanager
async def table(url: str, clock: Clock | None = None, **kw: object) -> AsyncIterator[TableOutbox]:
    db = Database(url)
    outbox = TableOutbox(db, clock or SystemClock(), TelegramMarkupCodec(), **kw)  # type: ignore[arg-type]
    outbox.start()
    try:
        yield outbox
    finally:
        await outbox.stop()
        await db.close()


@contextlib.asynccontextmanager
async def senders(
    url: str,
    api_url: str,
    n: int = 1,
    *,
    limits: Limits | None = None,
    hooks: Mapping[str, Hook] | None = None,
    settings: SettingsLookup = loud,
    clock: Clock | None = None,
    in_flight: int = 8,
) -> AsyncIterator[list[Sender]]:
    """``n`` senders as tasks of this process, each with its own engine and ``Bot``."""
    async with contextlib.AsyncExitStack() as stack:
        made: list[Sender] = []
        for _ in range(n):
            db = Database(url)
            stack.push_async_callback(db.close)
            request = HTTPXRequest(connection_pool_size=in_flight + 2)
            bot = await stack.enter_async_context(Bot(TOKEN, base_url=api_url, request=request))
            made.append(
                Sender(
                    db,
                    clock or SystemClock(),
                    TelegramTransport(bot),
                    settings,
                    TelegramMarkupCodec(),
                    hooks or {},
                    limits=limits,
                    in_flight=in_flight,
                )
            )
        tasks = [asyncio.create_task(s.run()) for s in made]
        try:
            yield made
        finally:
            for s in made:
                s.stop()
            await asyncio.gather(*tasks)


async def spawn(url: str, api_url: str, in_flight: int = 8) -> asyncio.subprocess.Process:
    """A sender as its own OS process; returns once it says it runs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.services.notices.sender_main",
        url,
        api_url,
        str(in_flight),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready", line
    return proc


async def reap(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)
