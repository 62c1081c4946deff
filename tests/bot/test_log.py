"""The log an operator reads: quiet while nothing happens, one INFO line per meaningful event."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.bot.conftest import BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram


async def test_an_idle_paper_bot_logs_no_reconnect(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 60 s of quiet at the default 15 s watchdog is four silent periods; here a period is 2 s
    # (the simulator publishes prices every second) and the bot idles for 8 s, so a watchdog
    # that fires on a merely quiet stream (the paper account's private stream never speaks
    # while nothing trades) shows up.
    caplog.set_level(logging.DEBUG, logger="bot")
    runner = BotRunner(make_settings(tg, tmp_path, stale_stream_seconds=2.0))
    await runner.start()
    try:
        apis = (runner.services.account_api, runner.services.market_api)
        before = [api._stream.connections for api in apis]
        await asyncio.sleep(8)
        assert [api._stream.connections for api in apis] == before
        assert all(api.stream_connected for api in apis)
    finally:
        await runner.stop()
    noisy = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "stream" in r.getMessage()
    ]
    assert noisy == []
