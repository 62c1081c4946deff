"""SIGKILL with the Hyperliquid leg in flight (executed on the venue, its answer never kept),
then a restart: the bot finds the order by its cloid, tells the user it filled, and sends
nothing more — no unwind of the Backpack leg, no second Hyperliquid order, no second entry."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from tests.conftest import Control
from tests.crash.harness import ALICE, TOKEN, BotProcess, Db, bot_env, sim_process
from tests.fakes.telegram import FakeTelegram
from tests.keys import new_keypair
from tests.simproc import UNTHROTTLED, start_sim

MAIN = Account.from_key("0x" + "71" * 32)
AGENT = Account.from_key("0x" + "72" * 32)
BTC = "BTC_USDC_PERP"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


async def info(url: str, kind: str) -> Any:
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{url}/info", json={"type": kind, "user": MAIN.address.lower()})
        r.raise_for_status()
        return r.json()


async def hl_btc(url: str) -> Decimal:
    for row in (await info(url, "clearinghouseState"))["assetPositions"]:
        if row["position"]["coin"] == "BTC":
            return Decimal(row["position"]["szi"])
    return Decimal(0)


@pytest.mark.timeout(120)
async def test_killed_with_the_hyperliquid_leg_answered_but_not_kept(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    keys = new_keypair()
    hl = await start_sim(
        31,
        "--venue",
        "hyperliquid",
        "--balance",
        "100000",
        "--wallet",
        MAIN.address,
        "--agent",
        f"{AGENT.address}={MAIN.address}",
    )
    async with sim_process(seed=32) as backpack:
        creds = {"walletAddress": MAIN.address, "privateKey": AGENT.key.hex(), **UNTHROTTLED}
        env = bot_env(
            tg,
            tmp_path,
            keys=keys,
            sim_url=backpack.rest_url,
            HEDGE_EXCHANGES="hyperliquid",
            HEDGE_CREDENTIALS_HYPERLIQUID=json.dumps(creds),
            HEDGE_API_URL_HYPERLIQUID=hl.rest_url,
            STRATEGY_INTERVAL_SECONDS="3600",
            LOG_LEVEL="INFO",
        )
        a, b = Control(backpack), Control(hl)
        bot = BotProcess(env, tmp_path / "bot.log")
        try:
            await a.post("funding", {"symbol": BTC, "rate": "0.0001"})
            await b.post("funding", {"symbol": "BTC", "rate": "0.0005"})
            await bot.start(tg, crash_at="hedge-answered")
            await tg.ask(ALICE, "/strategy set kind cross", "saved", timeout=20)
            await tg.ask(ALICE, "/strategy set symbols BTC", "saved")
            arb = await tg.ask(ALICE, "/arb", "Best funding spreads", timeout=40)
            opened = await tg.answer_to(await tg.tap(ALICE, arb, arb.button("Open BTC")), 30)
            assert opened.text == "", opened.text
            proposal = await tg.next_message(ALICE, "Strategy proposes: Open", timeout=20)
            await tg.tap(ALICE, proposal, proposal.button("Execute"))
            assert await bot.wait_dead(30) == -9, bot.tail()
            assert await hl_btc(hl.rest_url) < 0  # the Hyperliquid short is there
            (row,) = [r for r in Db(tmp_path / "bot.db").journal() if r.status == "sending"]

            mark = len(tg.messages)
            await bot.start(tg)
            db = Db(tmp_path / "bot.db")
            await tg.wait_for(lambda: db.unsettled() == 0, 20)
            told = await tg.next_message(ALICE, "After a restart", after=mark, timeout=20)
            # ✅ Opened, both legs with their fill prices: the Hyperliquid one found by cloid
            assert "✅" in told.text and "Opened" in told.text and "unwound" not in told.text
            assert re.search(r"SELL [0-9.]+ BTC/USDC:USDC @ [0-9,.]+ ", told.text), told.text
            assert db.journal(row.token)[-1].status == "filled"
            orders = await info(hl.rest_url, "historicalOrders")
            assert len(orders) == 1  # one Hyperliquid order: nothing re-sent, no unwind
            assert db.journal(row.token)[-1].order_id == str(orders[0]["order"]["oid"])
            acc = (await a.state())["accounts"][keys.api_key]
            assert len(acc["orders"]) == 1  # the Backpack leg was not unwound
            long_a = next(
                Decimal(str(p["netQuantity"])) for p in acc["positions"] if p["symbol"] == BTC
            )
            assert long_a > 0 and await hl_btc(hl.rest_url) == -long_a
            assert db.strategy_positions()[BTC] == str(long_a)  # booked once: no second entry
        finally:
            await a.close()
            await b.close()
            await bot.stop()
            await hl.stop()
