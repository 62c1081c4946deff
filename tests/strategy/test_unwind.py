"""A carry trade whose second leg fails is unwound on the real simulator (http_error fault)."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.exchange.client import BackpackAPI
from bot.sim import Simulator
from bot.strategy.executor import Executor
from bot.strategy.model import Action, Leg
from tests.conftest import Control
from tests.keys import KeyPair


def carry(qty: str) -> Action:
    return Action(
        kind="open",
        symbol="BTC_USDC_PERP",
        strategy="carry",
        legs=(
            Leg("BTC_USDC_PERP", "Ask", Decimal(qty)),
            Leg("BTC_USDC", "Bid", Decimal(qty)),
        ),
        reason="test",
        funding_rate=Decimal("0.001"),
        notional=Decimal(1000),
    )


async def test_second_leg_failure_unwinds_the_first(
    sim: Simulator, keys: KeyPair, control: Control
) -> None:
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        await control.post(
            "fault", {"kind": "http_error", "status": 400, "path": "/api/v1/order", "skip": 1}
        )
        report = await Executor(api).execute(carry("0.01"))
        assert not report.ok and report.unwinds
        assert report.perp_filled == 0 and report.spot_filled == 0
        assert await api.get_position("BTC_USDC_PERP") is None
        balances = {b["asset"]: b for b in await api.get_balances()}
        assert Decimal(str(balances.get("BTC", {}).get("available", 0))) == 0


async def test_both_legs_fill_without_problems(sim: Simulator, keys: KeyPair) -> None:
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        report = await Executor(api).execute(carry("0.01"))
        assert report.ok and not report.unwinds
        assert report.perp_filled == Decimal("-0.01") and report.spot_filled == Decimal("0.01")
