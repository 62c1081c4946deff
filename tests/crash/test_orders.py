"""``kill -9`` at many instants around an order, then a restart: nothing lost, nothing doubled.

Each case starts the bot as a real process (live mode against a simulator process, or paper
mode with its in-process simulator), previews ``/buy BTC 0.01``, taps ✅ and SIGKILLs the bot —
at a named crash point (``BOT_CRASH_AT``: inside the claim's transaction, after the claim, after
the exchange answered, after the acknowledgement, after the journal write, after the
confirmation became final but before its message was edited) or after a delay
while the order request is held in flight by the simulator's ``delay`` fault. Then it restarts
the bot and checks that

* the confirmation is final (no live ✅) and the journal agrees with the exchange: a row says
  filled exactly when the exchange has that clientId filled, not placed exactly when it has
  no such order; there is at most one order per confirmation and no order the journal does
  not know;
* what the user was told is true: a "Filled" said before the crash is on the exchange after it,
  the preview shows the real outcome, and "After a restart" says what happened;
* the next order works and gets a fresh order id (never one used before the crash).

``make test`` runs a short selection; ``pytest -m crash`` runs every kill point (22 per mode).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.render.trading import CONFIRM_PREFIX
from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN, BotProcess, Db, bot_env, sim_process
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair, open_paper_secret
from tests.sim.wire import Wire
from tests.simproc import SimProcess

DELAY_MS = 600


@dataclass(frozen=True)
class Kill:
    """Where to kill: a named crash point, or ``after_ms`` after the tap (request held
    ``DELAY_MS`` in flight when ``in_flight``)."""

    point: str | None = None
    after_ms: int = 0
    in_flight: bool = True

    def __str__(self) -> str:
        if self.point is not None:
            return self.point
        return f"{'inflight' if self.in_flight else 'plain'}-{self.after_ms}ms"


NAMED = [
    Kill("claiming"),
    Kill("claimed"),
    Kill("answered"),
    Kill("acknowledged"),
    Kill("recorded"),
    Kill("finished"),
]
TIMED = [Kill(after_ms=t) for t in (0, 40, 80, 150, 250, 350, 450, 550, 650, 750, 900)]
PLAIN = [Kill(after_ms=t, in_flight=False) for t in (5, 15, 30, 60, 120)]
ALL_POINTS = NAMED + TIMED + PLAIN  # 22 per mode
#: What ``make test`` runs (every process start costs seconds): in live mode a kill after the
#: exchange answered and one with the request in flight, in paper mode one inside the claim's
#: transaction; ``pytest -m crash`` runs every point in both modes.
SHORT = {
    "live": [Kill("answered"), Kill(after_ms=250)],
    "paper": [Kill("claiming")],
}


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


class Exchange:
    """What the exchange holds for the bot's account. Live: the simulator process's control
    API. Paper: the bot's in-process engine has no control API, so the paper account's own
    key (from the bot's database) reads it through the exchange API, as any client would."""

    def __init__(self, sim: SimProcess | None, api_key: str | None) -> None:
        self.control = Control(sim) if sim is not None else None
        self.api_key = api_key

    async def account(self, bot: BotProcess, db: Db) -> dict[str, Any]:
        if self.control is not None and self.api_key is not None:
            accounts: dict[str, Any] = (await self.control.state())["accounts"]
            return dict(accounts.get(self.api_key, {}))
        sealed = db.meta("paper_secret")
        assert sealed is not None, "the paper account has no key yet"
        secret = open_paper_secret(Path(bot.env["DATA_DIR"]), sealed)
        public = base64.b64encode(bytes(SigningKey(base64.b64decode(secret)).verify_key))
        wire = Wire(bot.paper_url(), KeyPair(public.decode(), secret))
        try:
            orders = await wire.call("GET", "/wapi/v1/history/orders", {"limit": "1000"})
        finally:
            await wire.close()
        return {"orders": orders}

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()


def _by_client_id(acc: dict[str, Any], cid: int) -> list[dict[str, Any]]:
    return [o for o in acc.get("orders", []) if o.get("clientId") == cid]


async def run_case(
    mode: str, kill: Kill, tg: FakeTelegram, tmp_path: Path, sim: SimProcess | None
) -> None:
    keys = new_keypair()
    live = keys if mode == "live" else None
    sim_url = sim.rest_url if sim is not None else ""
    env = bot_env(
        tg, tmp_path, keys=live, sim_url=sim_url, SIM_TICK_SECONDS="0.5", LOG_LEVEL="INFO"
    )
    exchange = Exchange(sim, keys.api_key if mode == "live" else None)
    db = Db(tmp_path / "bot.db")
    bot = BotProcess(env, tmp_path / "bot.log")
    delay = {"kind": "delay", "ms": DELAY_MS, "path": "/api/v1/order", "count": 1}
    held = kill.point is None and kill.in_flight
    # Paper: the engine in the bot starts with the fault (it has no control API to post it to).
    await bot.start(tg, crash_at=kill.point, sim_fault=delay if held and sim is None else None)
    try:
        preview = await tg.ask(ALICE, "/buy BTC 0.01", "order preview", timeout=20)
        data = preview.button("Confirm")
        token = data.removeprefix(CONFIRM_PREFIX)
        if held and exchange.control is not None:
            await exchange.control.post("fault", delay)
        qid = await tg.tap(ALICE, preview, data)
        if kill.point is not None:
            code = await bot.wait_dead()
            assert code == -9, f"the crash point {kill.point} was not reached:\n{bot.tail()}"
        else:
            await asyncio.sleep(kill.after_ms / 1000)
            await bot.kill()
        said_filled = any(a.callback_query_id == qid and "Filled" in a.text for a in tg.answers)
        at_kill = db.confirmation(token)  # "executing": only recovery can finish it
        if mode == "live":
            await asyncio.sleep(DELAY_MS / 1000 + 0.3)  # a held request still reaches the sim

        started = time.monotonic()
        mark = len(tg.messages)
        await bot.start(tg)
        assert time.monotonic() - started < 15, "a restart after SIGKILL must not wait"
        assert db.unsettled() == 0, "recovery left something unsettled"
        # A tap the dead bot had not yet confirmed to Telegram is delivered again and handled
        # now. One it had confirmed but not begun (updates are fetched ahead of their handlers)
        # is gone: then nothing was sent and the preview is still valid — tapping it again
        # must place exactly one order.
        with contextlib.suppress(AssertionError):
            await tg.wait_for(lambda: db.confirmation(token) == "done", 6)
        if db.confirmation(token) == "pending":
            acc = await exchange.account(bot, db)
            assert db.journal(token) == [] and acc.get("orders", []) == []
            assert not said_filled
            await tg.answer_to(await tg.tap(ALICE, tg.find(preview.message_id), data), 20)
        await tg.wait_for(lambda: db.confirmation(token) == "done" and db.unsettled() == 0, 20)
        rows = db.journal(token)
        acc = await exchange.account(bot, db)
        placed = [o for o in acc.get("orders", []) if o.get("symbol") == "BTC_USDC_PERP"]
        assert len(rows) == 1
        row = rows[0]
        found = _by_client_id(acc, row.client_id)
        assert len(found) <= 1 and len(placed) == len(found), (placed, row)
        if row.status == "filled":
            assert found and found[0]["status"] == "Filled"
            assert Decimal(found[0]["executedQuantity"]) == Decimal("0.01")
            assert found[0]["id"] == row.order_id
        else:
            assert row.status == "not_placed", row
            assert found == [] and not said_filled
        await tg.wait_for(lambda: tg.find(preview.message_id).reply_markup is None, 20)
        final = tg.find(preview.message_id)
        expected = "filled at" if row.status == "filled" else "not placed"
        await tg.wait_for(lambda: expected in tg.find(preview.message_id).text, 20)

        def recovered() -> list[str]:
            return [m.text for m in tg.messages[mark:] if "After a restart" in m.text]

        if at_kill == "executing":  # the user is told once what recovery found
            await tg.wait_for(recovered, 20)
            await asyncio.sleep(0.3)
            assert len(recovered()) == 1
            assert ("filled at" in recovered()[0]) == (row.status == "filled")
        else:  # finished (or never begun) before the kill: the preview above says it all
            assert recovered() == []
        assert final.reply_markup is None
        # The next order works and never reuses an order id.
        before = {o["id"] for o in acc.get("orders", [])}
        again = await tg.ask(ALICE, "/buy BTC 0.01", "order preview", timeout=20)
        answer = await tg.answer_to(await tg.tap(ALICE, again, again.button("Confirm")), 20)
        assert "Filled" in answer.text, answer.text
        acc = await exchange.account(bot, db)
        ids = [o["id"] for o in acc.get("orders", [])]
        assert len(ids) == len(set(ids)), "an order id was used twice"
        new = set(ids) - before
        assert len(new) == 1 and all(int(n) > int(b) for n in new for b in before)
    finally:
        await exchange.close()
        await bot.stop()


@pytest.fixture
async def live_sim() -> AsyncIterator[SimProcess]:
    async with sim_process() as sim:
        yield sim


def _params(mode: str) -> list[Any]:
    short = SHORT[mode]
    return [
        pytest.param(k, id=str(k), marks=[] if k in short else [pytest.mark.crash])
        for k in ALL_POINTS
    ]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kill", _params("live"))
async def test_live_kill(
    kill: Kill, tg: FakeTelegram, tmp_path: Path, live_sim: SimProcess
) -> None:
    await run_case("live", kill, tg, tmp_path, live_sim)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kill", _params("paper"))
async def test_paper_kill(kill: Kill, tg: FakeTelegram, tmp_path: Path) -> None:
    await run_case("paper", kill, tg, tmp_path, None)
