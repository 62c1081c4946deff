"""Both adapters over real sockets: ours on venue A, ccxt's ``backpack`` class on venue B."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest

from bot.exchange.client import BackpackAPI
from bot.venues.backpack import BackpackVenue
from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.port import Venue, VenueError
from bot.venues.spread import per_hour
from tests.conftest import Control
from tests.keys import new_keypair
from tests.simproc import SimProcess

A_BTC = "BTC_USDC_PERP"
B_BTC = "BTC/USDC:USDC"


@pytest.fixture
async def venues(
    venue_a: SimProcess, venue_b: SimProcess
) -> AsyncIterator[tuple[BackpackVenue, CcxtVenue]]:
    ka, kb = new_keypair(), new_keypair()
    api = BackpackAPI(
        ka.api_key, ka.api_secret, venue_a.rest_url, venue_a.ws_url, logging.getLogger()
    )
    creds = json.dumps({"apiKey": kb.api_key, "secret": kb.api_secret})
    hedge = CcxtVenue(make_exchange("backpack", creds, venue_b.rest_url))
    yield BackpackVenue(api), hedge
    await hedge.close()
    await api.close()


async def test_both_satisfy_the_port(venues: tuple[BackpackVenue, CcxtVenue]) -> None:
    a, b = venues
    assert isinstance(a, Venue) and isinstance(b, Venue)
    ma, mb = (await a.markets())[A_BTC], (await b.markets())[B_BTC]
    assert (ma.base, ma.settle, mb.base, mb.settle) == ("BTC", "USDC", "BTC", "USDC")
    assert ma.step == mb.step == D("0.00001") and ma.tick == mb.tick == D("0.1")
    assert all(m.symbol.endswith("_PERP") for m in (await a.markets()).values())


async def test_intervals_are_read_from_each_venue(
    venues: tuple[BackpackVenue, CcxtVenue], venue_a: SimProcess, venue_b: SimProcess
) -> None:
    a, b = venues
    ca, cb = Control(venue_a), Control(venue_b)
    try:
        await ca.post("funding", {"symbol": A_BTC, "rate": "0.0001"})
        await cb.post("funding", {"symbol": A_BTC, "rate": "0.0008"})
        fa, fb = await a.funding(A_BTC), await b.funding(B_BTC)
    finally:
        await ca.close()
        await cb.close()
    # ccxt's backpack class says '1h' for every market; the venue's market row says 8 h.
    assert (fa.interval_hours, fb.interval_hours) == (D(1), D(8))
    assert (fa.rate, fb.rate) == (D("0.0001"), D("0.0008"))
    assert per_hour(fa.rate, fa.interval_hours) == per_hour(fb.rate, fb.interval_hours)
    assert fa.next_funding_ms and fb.next_funding_ms and fa.mark and fb.mark


async def test_orders_by_client_id_positions_funding(
    venues: tuple[BackpackVenue, CcxtVenue], venue_a: SimProcess, venue_b: SimProcess
) -> None:
    a, b = venues
    assert (await b.balances())["USDC"] == 100000
    long = await b.place_order(B_BTC, "buy", D("0.01"), client_id=4242)
    short = await a.place_order(A_BTC, "sell", D("0.01"), client_id=4243)
    assert (long.status, long.filled, long.client_id) == ("filled", D("0.01"), 4242)
    assert (short.status, short.filled, short.client_id) == ("filled", D("0.01"), 4243)
    found = await b.order_by_client_id(B_BTC, 4242)
    assert found is not None and found.order_id == long.order_id and found.filled == D("0.01")
    assert await b.order_by_client_id(B_BTC, 999) is None
    assert await a.order_by_client_id(A_BTC, 999) is None
    [pb] = await b.positions()
    [pa] = await a.positions()
    assert (pb.symbol, pb.quantity, pa.symbol, pa.quantity) == (B_BTC, D("0.01"), A_BTC, D("-0.01"))
    book = await b.order_book(B_BTC, 5)
    assert len(book.bids) == 5 and book.bids[0][0] < book.asks[0][0]
    ca, cb = Control(venue_a), Control(venue_b)
    try:
        for c in (ca, cb):
            await c.post("funding", {"symbol": A_BTC, "rate": "0.001"})
            await c.post("settle")
        await cb.post(
            "fault", {"kind": "http_error", "status": 400, "path": "/api/v1/order", "count": 1}
        )
        with pytest.raises(VenueError) as err:
            await b.place_order(B_BTC, "buy", D("0.01"), client_id=4244)
        assert err.value.venue == "backpack"
    finally:
        await ca.close()
        await cb.close()
    [paid] = await b.funding_payments(B_BTC)  # the long pays a positive rate
    [got] = await a.funding_payments(A_BTC)  # the short receives it
    assert paid.amount < 0 < got.amount and paid.rate == got.rate == D("0.001")
