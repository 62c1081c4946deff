"""A carry trade whose second leg fails is unwound on the real simulator (http_error fault).

The legs go through the journaled order path (:class:`OrderSender`), as in the bot.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from bot.exchange.client import BackpackAPI
from bot.services.orders.sender import OrderSender, WireOrder
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.trading import TradingStore
from bot.strategy.executor import Executor, LegFill
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


async def executor(api: BackpackAPI, db: Database) -> Executor:
    orders = OrderSender(api, TradingStore(db), mode="paper")
    legs = {"0": 0, "1": 1, "unwind": 2}

    async def send(leg: Leg, step: str) -> LegFill:
        wire = WireOrder(leg.symbol, "BUY" if leg.side == "Bid" else "SELL", leg.quantity)
        o = await orders.place(wire, token="t", leg=legs[step], user_id=1, chat_id=1, origin="t")
        ok = o.status.value in ("filled", "partially_filled", "placed")
        return LegFill(
            leg.symbol,
            leg.side,
            leg.quantity,
            o.executed_quantity,
            o.avg_price,
            o.order_id,
            leg.reduce_only,
            None if ok else o.reason,
        )

    return Executor(send)


async def test_second_leg_failure_unwinds_the_first(
    sim: Simulator, keys: KeyPair, control: Control, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    await db.start()
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        await control.post(
            "fault", {"kind": "http_error", "status": 400, "path": "/api/v1/order", "skip": 1}
        )
        report = await (await executor(api, db)).execute(carry("0.01"))
        assert not report.ok and report.unwinds
        rows = await TradingStore(db).journal_for("t")
        assert [r.status for r in rows] == ["filled", "rejected", "filled"]  # legs 0, 1, unwind
        assert report.perp_filled == 0 and report.spot_filled == 0
        assert await api.get_position("BTC_USDC_PERP") is None
        balances = {b["asset"]: b for b in await api.get_balances()}
        assert Decimal(str(balances.get("BTC", {}).get("available", 0))) == 0
    await db.close()


async def test_both_legs_fill_without_problems(
    sim: Simulator, keys: KeyPair, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    await db.start()
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("t")
    ) as api:
        report = await (await executor(api, db)).execute(carry("0.01"))
        assert report.ok and not report.unwinds
        assert report.perp_filled == Decimal("-0.01") and report.spot_filled == Decimal("0.01")
    await db.close()
