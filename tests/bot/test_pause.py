"""/pause stops the strategy's new entries while its exits go on; /resume lets it enter again.

The bot trades live against the quiet simulator (prices move only when the test moves them);
the test runs the strategy's cycle itself rather than waiting for its timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.sim import Simulator
from tests.bot.conftest import ALICE, BOB, BotRunner, live_settings
from tests.bot.test_strategy import _positions
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair


@pytest.fixture
async def auto_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys, strategy_interval_seconds=3600))
    await runner.start()
    yield runner
    await runner.stop()


async def test_pause_stops_entries_but_not_a_stop_loss_exit(
    auto_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    svc = auto_bot.services.strategy
    await tg.ask(ALICE, "/strategy set kind directional", "kind")
    await tg.ask(ALICE, "/strategy set stop_loss_pct 3%", "stop_loss_pct")
    await tg.ask(ALICE, "/strategy auto", "auto")
    await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
    await svc.run_cycle()
    assert (await _positions(sim_control, keys))["BTC_USDC_PERP"] < 0  # entered: a short

    refused = await tg.ask(BOB, "/pause", "role")  # a trader may not pause the strategy
    assert "Paused" not in refused.text
    paused = await tg.ask(ALICE, "/pause", "Paused")
    assert "no new entries" in paused.text
    assert "Paused" in (await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")).text

    await sim_control.post("funding", {"symbol": "ETH_USDC_PERP", "rate": "0.001"})
    await svc.run_cycle()
    assert "ETH_USDC_PERP" not in await _positions(sim_control, keys)  # no new entry

    marks = {
        m["symbol"]: m["markPrice"] for m in await auto_bot.services.market_api.get_mark_prices()
    }
    up = (Decimal(str(marks["BTC_USDC_PERP"])) * Decimal("1.05")).quantize(Decimal(1))
    await sim_control.post("price", {"symbol": "BTC_USDC_PERP", "price": str(up)})
    await svc.run_cycle()
    after = await _positions(sim_control, keys)
    assert after.get("BTC_USDC_PERP", Decimal(0)) == 0  # the stop-loss exit still ran
    assert "ETH_USDC_PERP" not in after

    await tg.ask(ALICE, "/resume", "Resumed")
    assert "Paused" not in (await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")).text
    await svc.run_cycle()
    assert (await _positions(sim_control, keys))["ETH_USDC_PERP"] < 0  # entries again
