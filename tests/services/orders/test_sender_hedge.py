"""The one order path on the hedge venue: journaled before the request, a lost answer settled by
the clientId, recovery after a restart looks the row up on the venue that received it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.exchange.client import BackpackAPI, new_client_id
from bot.services.orders.sender import LegStatus, OrderSender, WireOrder
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.trading import NewJournalEntry, TradingStore
from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.port import HEDGE
from tests.conftest import Control
from tests.keys import new_keypair

BTC = "BTC/USDC:USDC"


@pytest.fixture
async def hedge_sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=12, random_walk=False, funding_interval=28800) as s:
        yield s


@pytest.fixture
async def hedge(hedge_sim: Simulator) -> AsyncIterator[CcxtVenue]:
    k = new_keypair()
    creds = json.dumps({"apiKey": k.api_key, "secret": k.api_secret})
    venue = CcxtVenue(make_exchange("backpack", creds, hedge_sim.rest_url))
    yield venue
    await venue.close()


@pytest.fixture
def sender(api: BackpackAPI, db: Database, hedge: CcxtVenue) -> OrderSender:
    return OrderSender(api, TradingStore(db), mode="live", hedge=hedge)


def buy(qty: str = "0.01") -> WireOrder:
    return WireOrder(BTC, "BUY", Decimal(qty), venue=HEDGE)


async def test_hedge_order_is_journaled_and_filled(sender: OrderSender) -> None:
    outcome = await sender.place(buy(), token="t1", leg=0, user_id=1, chat_id=1, origin="test")
    assert outcome.status is LegStatus.FILLED and outcome.executed_quantity == Decimal("0.01")
    [row] = await sender.store.journal_for("t1")
    assert (row.venue, row.status, row.client_id) == (HEDGE, "filled", outcome.client_id)


async def test_rejection_and_lost_answer(
    sender: OrderSender, hedge_sim: Simulator, hedge: CcxtVenue
) -> None:
    control = Control(hedge_sim)
    try:
        fault = {"kind": "http_error", "status": 400, "path": "/api/v1/order", "count": 1}
        await control.post("fault", fault)
        rejected = await sender.place(buy(), token="t2", leg=0, user_id=1, chat_id=1, origin="t")
        assert rejected.status is LegStatus.REJECTED and rejected.reason
        assert await hedge.positions() == []
        await control.post("fault", {"kind": "lost_response", "path": "/api/v1/order"})
        lost = await sender.place(buy(), token="t3", leg=0, user_id=1, chat_id=1, origin="t")
    finally:
        await control.close()
    # The answer was lost on the wire; the order was found by its clientId, not sent again.
    assert lost.status is LegStatus.FILLED
    [position] = await hedge.positions()
    assert position.quantity == Decimal("0.01")


async def test_recovery_resolves_hedge_rows_by_client_id(
    sender: OrderSender, hedge: CcxtVenue
) -> None:
    sent_cid, lost_cid = new_client_id(), new_client_id()
    entries = [
        NewJournalEntry(
            i, BTC, "BUY", "MARKET", Decimal("0.02"), None, False, False, cid, "", venue=HEDGE
        )
        for i, cid in enumerate((sent_cid, lost_cid))
    ]
    await sender.store.journal_add("t4", entries, user_id=1, chat_id=1, mode="live", now_ms=1)
    # The process "died" after the first request reached the venue, before it was recorded.
    await hedge.place_order(BTC, "buy", Decimal("0.02"), client_id=sent_cid)
    rows = await sender.unsettled()
    assert {r.client_id for r in rows} == {sent_cid, lost_cid}
    outcomes = {r.client_id: await sender.resolve(r) for r in rows}
    assert outcomes[sent_cid].status is LegStatus.FILLED
    assert outcomes[lost_cid].status is LegStatus.NOT_PLACED
    assert await sender.unsettled() == []
    [position] = await hedge.positions()
    assert position.quantity == Decimal("0.02")  # nothing was sent twice
