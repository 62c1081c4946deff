"""An unwound entry in a live cycle starts the symbol's cooldown, and the cooldown outlives a
restart: the rate still qualifies, yet no cycle opens the same pair again until it ends."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.sim import Simulator
from jobs.strategy import run_once
from tests.bot.conftest import ALICE, BotRunner, live_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

PERP, SPOT = "BTC_USDC_PERP", "BTC_USDC"


async def _orders(control: Control, keys: KeyPair) -> list[tuple[str, str, bool]]:
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    return [(o["symbol"], o["side"], bool(o["reduceOnly"])) for o in acc.get("orders", [])]


async def test_an_unwound_entry_cools_down_across_a_restart(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    settings = live_settings(
        tg,
        tmp_path,
        quiet_sim,
        keys,
        strategy_interval_seconds=3600,  # the test runs each cycle itself
    )
    runner = BotRunner(settings)
    await runner.start()
    try:
        await tg.ask(ALICE, "/strategy auto", "auto")
        await sim_control.post("funding", {"symbol": PERP, "rate": "0.001"})
        # The perp leg fills; the spot leg is refused: the perp is unwound.
        await sim_control.post(
            "fault", {"kind": "http_error", "status": 400, "path": "/api/v1/order", "skip": 1}
        )
        mark = len(tg.messages)
        await run_once(runner.services)
        told = await tg.next_message(ALICE, f"entry {PERP} unwound", after=mark, timeout=10)
        assert "after a restart" not in told.text
        assert "cooldown until " in told.text and " UTC" in told.text
        assert f"BUY {SPOT}" not in told.text and "(unwind)" in told.text
        assert "Fees ≈ " in told.text
        expected = [(PERP, "Ask", False), (PERP, "Bid", True)]  # the entry and its unwind
        assert await _orders(sim_control, keys) == expected
        await run_once(runner.services)  # the rate still qualifies: the cooldown holds it back
        assert await _orders(sim_control, keys) == expected
    finally:
        await runner.stop()

    runner = BotRunner(settings)  # a restart on the same database
    await runner.start()
    try:
        await run_once(runner.services)
        assert await _orders(sim_control, keys) == expected
        status = await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")
        assert "cooling down" in status.text
        acc: dict[str, Any] = (await sim_control.state())["accounts"][keys.api_key]
        net = sum((Decimal(str(p["netQuantity"])) for p in acc.get("positions", [])), Decimal(0))
        assert net == 0
    finally:
        await runner.stop()
