"""Positions and funding across venues on the dashboard: Backpack (a simulator process through
our client) and the hedge venue (another simulator process through ccxt)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import BotRunner, make_settings
from tests.bot.test_cross import control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.simproc import SimProcess
from tests.webapp.conftest import OWNER, tma

venue_a = bot_fixtures.venue_a
venue_b = bot_fixtures.venue_b
hedge_keys = bot_fixtures.hedge_keys
HEDGE_BTC = "BTC/USDC:USDC"


@pytest.fixture
async def two_venues(
    tg: FakeTelegram,
    tmp_path: Path,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(
        make_settings(
            tg,
            tmp_path,
            telegram_allowed_users=f"{OWNER}:owner",
            trading_mode="live",
            exchange="backpack",
            backpack_api_key=keys.api_key,
            backpack_api_secret=keys.api_secret,
            backpack_api_url=venue_a.rest_url,
            backpack_ws_url=venue_a.ws_url,
            hedge_exchange="backpack",
            hedge_api_url=venue_b.rest_url,
            hedge_credentials=json.dumps(
                {"apiKey": hedge_keys.api_key, "secret": hedge_keys.api_secret}
            ),
            webapp_url="https://dash.example.org/",
            webapp_port=0,
        )
    )
    await runner.start()
    yield runner
    await runner.stop()


async def test_hedge_positions_and_funding_show_with_their_venue(
    two_venues: BotRunner, tg: FakeTelegram, venue_b: SimProcess
) -> None:
    cross = two_venues.services.strategy.cross
    assert cross is not None
    await cross.hedge.place_order(HEDGE_BTC, "sell", Decimal("0.01"), client_id=4242)
    await control(venue_b, "funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
    await control(venue_b, "settle")
    server = two_venues.app.bot_data.dashboard
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as dash:
        rows = (await dash.get("/api/positions", headers=tma(OWNER))).json()["positions"]
        [hedge] = [r for r in rows if r["venue"] == "backpack (hedge)"]
        assert (hedge["side"], hedge["size"], hedge["closable"]) == ("SHORT", "0.01", False)
        funding = (await dash.get("/api/funding", headers=tma(OWNER))).json()["rows"]
        [paid] = [r for r in funding if r["venue"] == "backpack (hedge)"]
        assert paid["asset"] == "BTC" and paid["funding"].startswith("+")  # the short receives
        arb = (await dash.get("/api/arb", headers=tma(OWNER))).json()
        assert arb["configured"] is True and "BTC" in arb["text"]
        charts = {h["base"]: h["svg"] for h in arb["history"]}
        assert "<polyline" in charts["BTC"] and "spread APR, now" in charts["BTC"]
