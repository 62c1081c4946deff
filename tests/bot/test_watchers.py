"""Watchers that run without being asked: funding notices, liquidation warnings, one instance."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.exchange.client import BackpackAPI
from bot.sim import Simulator
from bot.storage.db import InstanceLocked
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair


def _live(
    tg: FakeTelegram, tmp_path: Path, sim: Simulator, keys: KeyPair, **kw: object
) -> BotRunner:
    return BotRunner(
        make_settings(
            tg,
            tmp_path,
            trading_mode="live",
            exchange="backpack",
            backpack_api_key=keys.api_key,
            backpack_api_secret=keys.api_secret,
            backpack_api_url=sim.rest_url,
            backpack_ws_url=sim.ws_url,
            **kw,
        )
    )


async def test_funding_notice_and_liquidation_warning_arrive_once(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    async with BackpackAPI(
        keys.api_key, keys.api_secret, quiet_sim.rest_url, quiet_sim.ws_url, logging.getLogger()
    ) as api:
        await api.place_order(symbol="BTC_USDC_PERP", side="BUY", quantity="5", order_type="MARKET")
    runner = _live(
        tg,
        tmp_path,
        quiet_sim,
        keys,
        funding_notice_minutes=60,
        liquidation_warning_distance="0.99",
    )
    await runner.start()
    try:
        notice = await tg.next_message(ALICE, "Funding for", timeout=12)
        assert "BTC_USDC_PERP" in notice.text and "USDC" in notice.text
        warning = await tg.next_message(ALICE, "from liquidation", timeout=12)
        assert "BTC_USDC_PERP" in warning.text
        watchers = runner.services.watchers
        assert await watchers.funding() == []  # each notice fires once
        assert await watchers.liquidation() == []
        await runner.services.outbox.drain()
        assert sum("Funding for" in m.text for m in tg.to(ALICE)) == 1
        assert sum("from liquidation" in m.text for m in tg.to(ALICE)) == 1
    finally:
        await runner.stop()


async def test_a_second_instance_refuses_to_start(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    first = _live(tg, tmp_path, quiet_sim, keys)
    await first.start()
    try:
        second = _live(tg, tmp_path, quiet_sim, keys)
        with pytest.raises(InstanceLocked, match="already running"):
            await second.start()
    finally:
        await first.stop()
