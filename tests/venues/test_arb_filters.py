"""ARB_MIN_OPEN_INTEREST / ARB_MIN_VOLUME_24H: hedge markets under them are left out of /arb
(open interest and 24 h volume read through ccxt's hyperliquid class from the venue's face)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal as D

from bot.clock import SystemClock
from bot.exchange.client import BackpackAPI
from bot.services.strategy.arb import ArbConfig, ArbService
from bot.venues.backpack import BackpackVenue
from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from tests.keys import new_keypair
from tests.simproc import UNTHROTTLED, SimProcess, start_sim


async def test_thin_hedge_markets_are_left_out(venue_a: SimProcess) -> None:
    hl = await start_sim(23, "--venue", "hyperliquid")
    k = new_keypair()
    api = BackpackAPI(
        k.api_key, k.api_secret, venue_a.rest_url, venue_a.ws_url, logging.getLogger()
    )
    hedge = CcxtVenue(make_exchange("hyperliquid", json.dumps(UNTHROTTLED), hl.rest_url))
    try:
        oi, volume = await hedge.market_stats("BTC/USDC:USDC")
        assert oi is not None and volume is not None and oi > 0 and volume > 0

        def arb(min_oi: D, min_volume: D) -> ArbService:
            config = ArbConfig(
                D(1000), D(24), (), min_open_interest=min_oi, min_volume_24h=min_volume
            )
            return ArbService(BackpackVenue(api), hedge, config, SystemClock())

        everything = await arb(D(0), D(0)).scan(top=None)
        assert everything.filtered == 0 and everything.edges
        by_volume = await arb(D(0), volume * 2).scan(top=None)
        assert "BTC" not in {e.base for e in by_volume.edges} and by_volume.filtered >= 1
        by_oi = await arb(oi * 2, D(0)).scan(top=None)
        assert "BTC" not in {e.base for e in by_oi.edges}
        none = await arb(D(10) ** 15, D(0)).scan(top=None)
        assert none.edges == [] and none.filtered == none.pairs > 0
    finally:
        await hedge.close()
        await api.close()
        await hl.stop()
