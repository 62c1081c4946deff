"""The strategy in auto mode, SIGKILLed in the middle of entering a carry pair (perp short, then
spot buy). After the restart recovery decides explicitly, through the journaled order path and
exactly once:

* the entry rule still holds and the spot leg is safe to send → the missing leg goes out and the
  pair is booked ("completed after a restart");
* the rule no longer holds (funding moved to 0 while the bot was down), or the leg is no longer
  safe to send (here: ``MAX_ORDER_NOTIONAL`` lowered below its size) → the perp leg is unwound
  reduce-only and the symbol cools down: when the rate qualifies again, the next cycles do not
  re-enter ("unwound after a restart, cooldown until HH:MM UTC").

Each case checks the exchange's exact order list, the strategy's book and the one message the
user gets, legs and fees included.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN, BotProcess, Db, bot_env, sim_process
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair

PERP, SPOT = "BTC_USDC_PERP", "BTC_USDC"
RATE = "0.001"

#: (crash point, what the market does while the bot is down); the first two run by default.
SHORT = [("answered", "unwind"), ("first-leg", "complete")]
LONG = [
    ("answered", "complete"),
    ("first-leg", "unwind"),
    ("first-leg", "unsafe"),
    ("journaled", "unwind"),
]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


def _cases() -> list[Any]:
    return [pytest.param(p, b, id=f"{p}-{b}") for p, b in SHORT] + [
        pytest.param(p, b, id=f"{p}-{b}", marks=pytest.mark.crash) for p, b in LONG
    ]


async def _orders(control: Control, keys: KeyPair) -> list[tuple[str, str, str, bool]]:
    """The account's orders at the exchange, oldest first: (symbol, side, quantity, reduce)."""
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    orders = acc.get("orders", [])
    return [(o["symbol"], o["side"], _qty(o["quantity"]), bool(o["reduceOnly"])) for o in orders]


def _qty(value: object) -> str:
    return str(Decimal(str(value)).normalize())


async def _order_ids(control: Control, keys: KeyPair) -> list[str]:
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    return [str(o["id"]) for o in acc.get("orders", [])]


async def _position(control: Control, keys: KeyPair) -> Decimal:
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    return sum((Decimal(str(p["netQuantity"])) for p in acc.get("positions", [])), Decimal(0))


def _minutes(start: float, end: float) -> set[str]:
    """Every ``HH:MM UTC`` an hour after some instant in [start, end] (epoch seconds)."""
    out = set()
    t = start - 60
    while t <= end + 60:
        out.add(datetime.fromtimestamp(t + 3600, UTC).strftime("%H:%M UTC"))
        t += 30
    return out


async def _wait_for_log(bot: BotProcess, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in bot.log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{bot.tail()}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("point", "branch"), _cases())
async def test_auto_strategy_killed_mid_entry(
    point: str, branch: str, tg: FakeTelegram, tmp_path: Path
) -> None:
    keys = new_keypair()
    async with sim_process() as sim:
        control = Control(sim)
        env = bot_env(tg, tmp_path, keys=keys, sim_url=sim.rest_url, STRATEGY_INTERVAL_SECONDS="5")
        bot = BotProcess(env, tmp_path / "bot.log")
        db = Db(tmp_path / "bot.db")
        try:
            await bot.start(tg, crash_at=point)
            await tg.ask(ALICE, "/strategy auto", "auto")
            await control.post("funding", {"symbol": PERP, "rate": RATE})
            assert await bot.wait_dead(30) == -signal.SIGKILL, bot.tail()
            assert [s for _, s in db.approvals()] == ["executing"]
            before = await _orders(control, keys)
            if branch == "unwind":  # the market moves on while the bot is down
                await control.post("funding", {"symbol": PERP, "rate": "0"})
            if branch == "unsafe":  # the rule holds, but the spot leg is over the new limit
                bot.env["MAX_ORDER_NOTIONAL"] = "500"
            mark = len(tg.messages)
            started = time.time()
            await bot.start(tg)
            restarted = time.time()
            assert [s for _, s in db.approvals()] == ["executed"]
            assert db.unsettled() == 0
            told = await tg.next_message(ALICE, "After a restart", after=mark, timeout=10)
            orders = await _orders(control, keys)
            ids = await _order_ids(control, keys)
            if point == "journaled":  # the first leg never left: nothing to decide
                assert before == orders == []
                assert [r.status for r in db.journal()] == ["not_placed"]
                assert "nothing was traded" in told.text
                return
            assert len(before) == 1
            _, _, qty, _ = before[0]
            entry = (PERP, "Ask", qty, False)
            if branch == "complete":
                assert orders == [entry, (SPOT, "Bid", qty, False)]
                assert [r.leg for r in db.journal()] == [0, 1]
                assert await _position(control, keys) == -Decimal(qty)
                assert db.strategy_positions() == {PERP: str(-Decimal(qty))}
                assert f"Opened {PERP}: completed after a restart" in told.text
                assert "cooldown" not in told.text
            else:
                assert orders == [entry, (PERP, "Bid", qty, True)]  # the entry and its unwind
                assert [r.leg for r in db.journal()] == [0, 2]
                assert await _position(control, keys) == 0
                assert db.strategy_positions() == {}
                until = told.text.split("cooldown until ", 1)[1][:9]
                assert until in _minutes(started, restarted), told.text
                assert f"entry {PERP} unwound after a restart, cooldown until" in told.text
                why = {
                    "unwind": "not completed: the entry rule no longer holds",
                    "unsafe": f"not completed: the {SPOT} leg is no longer safe to send",
                }
                assert why[branch] in told.text
                # The rate qualifies again, but the pair cools down: no second entry.
                await control.post("funding", {"symbol": PERP, "rate": RATE})
                await _wait_for_log(bot, f"{PERP} qualifies but is cooling down", 20)
                assert await _orders(control, keys) == orders
            assert "Strategy Opened" not in told.text or branch == "complete"
            for order_id in ids:  # every leg, with the exchange's order id
                assert f"(order {order_id})" in told.text
            assert "Fees ≈ " in told.text
            assert [m for m in tg.messages[mark:] if "After a restart" in m.text] == [told]
        finally:
            await bot.stop()
            await control.close()
