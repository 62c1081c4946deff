"""The log an operator reads: quiet while nothing happens, one INFO line per meaningful event."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.logs import configure_logging
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, live_settings, make_settings
from tests.bot.test_alerts import last_price, set_price
from tests.bot.test_events import until
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

LogTo = Callable[[str], io.StringIO]


@pytest.fixture
def log_to() -> Iterator[LogTo]:
    """``configure_logging`` as ``python -m bot`` calls it, writing to a buffer; undone after."""
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []

    def configure(level: str) -> io.StringIO:
        buffer = io.StringIO()
        installed.append(configure_logging(level, buffer))
        return buffer

    yield configure
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)


async def test_an_idle_paper_bot_logs_no_reconnect_and_no_job_runs(
    tg: FakeTelegram, tmp_path: Path, log_to: LogTo
) -> None:
    # 60 s of quiet at the default 15 s watchdog is four silent periods; here a period is 2 s
    # (the simulator publishes prices every second) and the bot idles for 8 s, so a watchdog
    # that fires on a merely quiet stream (the paper account's private stream never speaks
    # while nothing trades) shows up, and the 2 s stale-stream job runs four times.
    out = log_to("INFO")
    runner = BotRunner(make_settings(tg, tmp_path, stale_stream_seconds=2.0))
    await runner.start()
    try:
        apis = (runner.services.account_api, runner.services.market_api)
        before = [api.stream_connections for api in apis]
        await asyncio.sleep(8)
        assert [api.stream_connections for api in apis] == before
        assert all(api.stream_connected for api in apis)
    finally:
        await runner.stop()
    text = out.getvalue()
    assert "paper exchange" in text  # the handler did see the bot's INFO lines
    for noise in ("stream", "reconnect", "Running job", "executed successfully", "WARNING"):
        assert noise not in text, text


def test_job_runs_are_debug_lines(log_to: LogTo) -> None:
    out = log_to("DEBUG")
    logging.getLogger("apscheduler.executors.default").info('Running job "%s"', "watch-stale")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("bot.orders").info("order sent")
    # Only these loggers' lines: a library's thread (aiosqlite closing a connection of an
    # earlier test) may log at DEBUG meanwhile.
    ours = ("apscheduler.", "bot.orders:")
    lines = [line.split(" ", 2)[2] for line in out.getvalue().splitlines()]
    assert [line for line in lines if line.split(" ", 1)[1].startswith(ours)] == [
        'DEBUG apscheduler.executors.default: Running job "watch-stale"',
        "WARNING apscheduler.scheduler: Run time of job was missed",
        "INFO bot.orders: order sent",
    ]


async def test_one_info_line_per_order_fill_and_alert(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, log_to: LogTo
) -> None:
    out = log_to("INFO")
    p = await last_price(live_bot)
    await tg.ask(ALICE, f"/alert BTC > {(p * Decimal('1.01')).quantize(Decimal(1))}", "#")
    preview = await tg.ask(ALICE, "/buy BTC 0.01", "preview")
    await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    await until(lambda: live_bot.services.fills.skipped >= 1)  # the fill event, logged
    await set_price(sim_control, p * Decimal("1.02"))
    await tg.next_message(ALICE, "rose above")
    lines = out.getvalue().splitlines()

    def count(*parts: str) -> int:
        return sum(all(part in line for part in parts) for line in lines)

    assert count(" order ", "BTC_USDC_PERP") == 1, lines  # the wire request is DEBUG
    assert count("INFO bot.orders: order BUY 0.01 BTC_USDC_PERP cid=", ": filled ") == 1
    assert count("INFO bot.watchers: fill: BUY 0.01 BTC_USDC_PERP at ") == 1, lines
    assert count("INFO bot.alerts: alert #", "fired: BTC_USDC_PERP price >") == 1, lines


async def test_a_strategy_decision_is_one_info_line(
    tg: FakeTelegram,
    tmp_path: Path,
    quiet_sim: Simulator,
    keys: KeyPair,
    sim_control: Control,
    log_to: LogTo,
) -> None:
    runner = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys, strategy_interval_seconds=5))
    await runner.start()
    try:
        out = log_to("INFO")
        await tg.ask(ALICE, "/strategy approve", "approve")
        await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
        await tg.next_message(ALICE, "BTC_USDC_PERP", timeout=15)
    finally:
        await runner.stop()
    lines = out.getvalue().splitlines()
    proposals = [line for line in lines if "INFO jobs.strategy: strategy proposes: open" in line]
    assert proposals, lines  # one line per proposal, with the market and the reason
    assert all("BTC_USDC_PERP (" in line and "), " in line for line in proposals), proposals
