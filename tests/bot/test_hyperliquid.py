"""Backpack ↔ Hyperliquid end to end, offline: the bot live on two simulator processes — the
Backpack face through our client, the Hyperliquid face through ccxt's own ``hyperliquid``
class with an API (agent) wallet signing for a main wallet."""

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
from pydantic import SecretStr

from jobs.strategy import run_once
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.bot.test_cross import btc, control, orders, setup
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.simproc import UNTHROTTLED, SimProcess, start_sim

MAIN = Account.from_key("0x" + "61" * 32)
AGENT = Account.from_key("0x" + "62" * 32)
HL_BTC = "BTC/USDC:USDC"
BTC = "BTC_USDC_PERP"


@pytest.fixture
async def hl_venue() -> AsyncIterator[SimProcess]:
    p = await start_sim(
        21,
        "--venue",
        "hyperliquid",
        "--balance",
        "100000",
        "--wallet",
        MAIN.address,
        "--agent",
        f"{AGENT.address}={MAIN.address}",
    )
    yield p
    await p.stop()


def hl_settings(
    tg: FakeTelegram, tmp_path: Path, venue_a: SimProcess, keys: KeyPair, hl: str
) -> Any:
    creds = {
        "hyperliquid": {"walletAddress": MAIN.address, "privateKey": AGENT.key.hex(), **UNTHROTTLED}
    }
    return make_settings(
        tg,
        tmp_path,
        trading_mode="live",
        exchange="backpack",
        backpack_api_key=keys.api_key,
        backpack_api_secret=keys.api_secret,
        backpack_api_url=venue_a.rest_url,
        backpack_ws_url=venue_a.ws_url,
        hedge_exchanges="hyperliquid",
        hedge_api_url=hl,
        hedge_credentials=json.dumps(creds),
    )


@pytest.fixture
async def hl_bot(
    tg: FakeTelegram, tmp_path: Path, venue_a: SimProcess, hl_venue: SimProcess, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(hl_settings(tg, tmp_path, venue_a, keys, hl_venue.rest_url))
    await runner.start()
    yield runner
    await runner.stop()


async def info(hl: SimProcess, kind: str, **body: Any) -> Any:
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{hl.rest_url}/info", json={"type": kind, **body})
        r.raise_for_status()
        return r.json()


async def hl_position(hl: SimProcess) -> Decimal:
    state = await info(hl, "clearinghouseState", user=MAIN.address.lower())
    for row in state["assetPositions"]:
        if row["position"]["coin"] == "BTC":
            return Decimal(row["position"]["szi"])
    return Decimal(0)


async def hl_orders(hl: SimProcess) -> list[dict[str, Any]]:
    return list(await info(hl, "historicalOrders", user=MAIN.address.lower()))


async def test_funding_arb_open_double_tap_positions_and_pnl_on_hyperliquid(
    hl_bot: BotRunner, tg: FakeTelegram, venue_a: SimProcess, hl_venue: SimProcess, keys: KeyPair
) -> None:
    await control(venue_a, "funding", {"symbol": BTC, "rate": "0.0001"})
    await control(hl_venue, "funding", {"symbol": "BTC", "rate": "0.0004"})
    funding = await tg.ask(ALICE, "/funding BTC", "both venues", timeout=30)
    assert "<b>hyperliquid</b> <code>BTC/USDC:USDC</code>: +0.0400% per 1h" in funding.text
    arb = await tg.ask(ALICE, "/arb", "Best funding spreads", timeout=30)
    assert "<b>BTC</b> on hyperliquid" in arb.text

    await setup(tg, "approve")
    mark = len(tg.messages)
    await run_once(hl_bot.services)
    proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
    button = proposal.button("Execute")
    first = await tg.tap(ALICE, proposal, button)
    second = await tg.tap(ALICE, proposal, button)
    await tg.answer_to(first, 20)
    await tg.answer_to(second, 20)
    long_a, short_hl = await btc(venue_a, keys), await hl_position(hl_venue)
    assert long_a > 0 and short_hl == -long_a
    assert await orders(venue_a, keys) == 1
    (order,) = await hl_orders(hl_venue)  # exactly one order on Hyperliquid, the double tap none
    o = order["order"]
    assert o["tif"] == "Ioc" and re.fullmatch(r"0x[0-9a-f]{32}", o["cloid"])
    fills = await info(hl_venue, "userFills", user=MAIN.address.lower())
    worst = min(Decimal(f["px"]) for f in fills)
    assert Decimal(o["limitPx"]) <= worst
    assert Decimal(o["limitPx"]) >= Decimal(fills[0]["px"]) * (1 - Decimal("0.005")) - 1

    positions = await tg.ask(ALICE, "/positions", "cross-venue pairs")
    line = next(x for x in positions.text.split("\n") if x.startswith("<b>BTC</b>"))
    assert "on backpack (" in line and "on hyperliquid (liq." in line and line.endswith("delta 0")

    await control(venue_a, "settle")
    await control(hl_venue, "settle")
    pnl = await tg.ask(ALICE, "/pnl", "Funding on hyperliquid")
    ours, theirs = pnl.text.split("Funding on hyperliquid")
    assert "funding -" in ours and "BTC/USDC:USDC: funding +" in theirs


async def test_three_venues_arb_picks_the_best_venue_per_asset(
    tg: FakeTelegram,
    tmp_path: Path,
    venue_a: SimProcess,
    venue_b: SimProcess,
    hl_venue: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backpack, the Hyperliquid face, and ccxt's ``backpack`` class on a second Backpack
    simulator (8-hour funding) as a third venue."""
    creds = {
        "hyperliquid": {
            "walletAddress": MAIN.address,
            "privateKey": AGENT.key.hex(),
            **UNTHROTTLED,
        },
        "backpack": {"apiKey": hedge_keys.api_key, "secret": hedge_keys.api_secret},
    }
    monkeypatch.setenv("HEDGE_API_URL_BACKPACK", venue_b.rest_url)
    settings = hl_settings(tg, tmp_path, venue_a, keys, hl_venue.rest_url).model_copy(
        update={
            "hedge_exchanges": "hyperliquid,backpack",
            "hedge_credentials": SecretStr(json.dumps(creds)),
        }
    )
    runner = BotRunner(settings)
    await runner.start()
    try:
        eth = "ETH_USDC_PERP"
        await control(venue_a, "funding", {"symbol": BTC, "rate": "0.0001"})
        await control(venue_a, "funding", {"symbol": eth, "rate": "0.0001"})
        # BTC: Hyperliquid pays 0.05 %/h, B 0.01 %/h → hyperliquid. ETH: B 0.1 %/h → B.
        await control(hl_venue, "funding", {"symbol": "BTC", "rate": "0.0005"})
        await control(hl_venue, "funding", {"symbol": "ETH", "rate": "0.0001"})
        await control(venue_b, "funding", {"symbol": BTC, "rate": "0.0008"})
        await control(venue_b, "funding", {"symbol": eth, "rate": "0.008"})
        arb = await tg.ask(ALICE, "/arb", "Best funding spreads", timeout=40)
        assert "backpack vs hyperliquid, backpack (hedge)" in arb.text
        assert "<b>BTC</b> on hyperliquid ·" in arb.text
        assert "<b>ETH</b> on backpack (hedge) ·" in arb.text
        funding = await tg.ask(ALICE, "/funding BTC", "every venue", timeout=30)
        assert "<b>hyperliquid</b> <code>BTC/USDC:USDC</code>: +0.0500% per 1h" in funding.text
        assert "<b>backpack (hedge)</b> <code>BTC/USDC:USDC</code>: +0.0800% per 8h" in (
            funding.text
        )
        assert funding.text.index("hyperliquid</b>") < funding.text.index("(hedge)</b>")
        assert "← best" in funding.text

        # The rates change: now B pays more on BTC, Hyperliquid more on ETH.
        await control(hl_venue, "funding", {"symbol": "BTC", "rate": "0.0001"})
        await control(venue_b, "funding", {"symbol": BTC, "rate": "0.008"})
        await control(hl_venue, "funding", {"symbol": "ETH", "rate": "0.002"})
        await control(venue_b, "funding", {"symbol": eth, "rate": "0.0008"})
        arb = await tg.ask(ALICE, "/arb", "Best funding spreads", timeout=40)
        assert "<b>BTC</b> on backpack (hedge) ·" in arb.text
        assert "<b>ETH</b> on hyperliquid ·" in arb.text
        # The cross strategy picks the venue by the same numbers.
        await setup(tg, "approve")
        mark = len(tg.messages)
        await run_once(runner.services)
        proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
        assert "short backpack (hedge), long backpack" in proposal.text, proposal.text
        await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 30)
        assert await btc(venue_b, hedge_keys) < 0 and await hl_position(hl_venue) == 0
        # Positions, the delta check and /pnl read the venue each position is held on.
        positions = await tg.ask(ALICE, "/positions", "cross-venue pairs", timeout=20)
        line = next(x for x in positions.text.split("\n") if x.startswith("<b>BTC</b>"))
        assert "on backpack (hedge) (liq." in line and line.endswith("delta 0")
        desk = runner.services.strategy.cross
        assert desk is not None
        portfolio = await runner.services.strategy.store.portfolio()
        assert portfolio.positions[0].hedge_venue == "backpack"
        assert await desk.deltas(portfolio, auto=False) == ([], [])
        await control(venue_b, "settle")
        pnl = await tg.ask(ALICE, "/pnl", "Funding on backpack (hedge)", timeout=20)
        assert "Funding on hyperliquid" in pnl.text
        assert "BTC/USDC:USDC: funding +" in pnl.text.split("Funding on backpack (hedge)")[1]
    finally:
        await runner.stop()


async def test_a_lost_hyperliquid_answer_is_settled_by_its_cloid(
    hl_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    hl_venue: SimProcess,
    keys: KeyPair,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The order runs on the venue and its answer is lost on the wire: the one order path
    looks it up by the cloid it sent — filled, nothing re-sent, nothing unwound."""
    await control(venue_a, "funding", {"symbol": BTC, "rate": "0.0001"})
    await control(hl_venue, "funding", {"symbol": "BTC", "rate": "0.0004"})
    await setup(tg, "approve")
    mark = len(tg.messages)
    await run_once(hl_bot.services)
    proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
    await control(hl_venue, "fault", {"kind": "lost_response", "action": "order", "count": 1})
    done = await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 30)
    assert "unwound" not in done.text and "failed" not in done.text, done.text
    long_a, short_hl = await btc(venue_a, keys), await hl_position(hl_venue)
    assert long_a > 0 and short_hl == -long_a
    assert await orders(venue_a, keys) == 1 and len(await hl_orders(hl_venue)) == 1
    assert "looking it up by clientId" in caplog.text  # the answer really was lost
    assert await hl_bot.services.orders.store.unsettled() == []
