"""The strategy in auto mode, SIGKILLed in the middle of entering a carry pair (perp short, then
spot buy): after the restart the half-entered pair is unwound by the executor's rules, through
the journaled order path, exactly once — no duplicate leg, the strategy's book matches the
exchange, and the user is told.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN, BotProcess, Db, bot_env, sim_process
from tests.fakes.telegram import FakeTelegram
from tests.keys import new_keypair

PERP, SPOT = "BTC_USDC_PERP", "BTC_USDC"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", ["journaled", "answered", "first-leg"])
async def test_auto_strategy_killed_mid_entry(point: str, tg: FakeTelegram, tmp_path: Path) -> None:
    keys = new_keypair()
    async with sim_process() as sim:
        control = Control(sim)
        env = bot_env(tg, tmp_path, keys=keys, sim_url=sim.rest_url, STRATEGY_INTERVAL_SECONDS="5")
        bot = BotProcess(env, tmp_path / "bot.log")
        db = Db(tmp_path / "bot.db")
        try:
            await bot.start(tg, crash_at=point)
            await tg.ask(ALICE, "/strategy auto", "auto")
            await control.post("funding", {"symbol": PERP, "rate": "0.001"})
            assert await bot.wait_dead(30) == -signal.SIGKILL, bot.tail()
            assert [s for _, s in db.approvals()] == ["executing"]
            # The market moves on: no new entry after the restart, only the repair.
            await control.post("funding", {"symbol": PERP, "rate": "0"})
            mark = len(tg.messages)
            await bot.start(tg)
            assert [s for _, s in db.approvals()] == ["executed"]
            assert db.unsettled() == 0
            acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
            orders = acc.get("orders", [])
            perp = [o for o in orders if o["symbol"] == PERP]
            spot = [o for o in orders if o["symbol"] == SPOT]
            assert spot == []  # the hedge leg was never sent, and never sent twice
            position = sum(
                (Decimal(str(p["netQuantity"])) for p in acc.get("positions", [])), Decimal(0)
            )
            assert position == 0  # the half-entered pair was unwound
            assert db.strategy_positions() == {}  # and the strategy's book agrees
            journal = db.journal()
            if point == "journaled":  # the first leg never left: nothing to undo
                assert perp == [] and [r.status for r in journal] == ["not_placed"]
            else:
                assert [o["side"] for o in perp] == ["Ask", "Bid"]  # the leg and its unwind
                assert [r.status for r in journal] == ["filled", "filled"]
                assert [r.leg for r in journal] == [0, 2]
                told = await tg.next_message(ALICE, "After a restart", after=mark, timeout=10)
                assert "unwound" in told.text
        finally:
            await bot.stop()
            await control.close()
