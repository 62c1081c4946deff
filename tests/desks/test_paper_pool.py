"""Paper desks borrow the engine's one connection pool: each desk's client trades through it,
and closing one desk's client (evicted) leaves the others trading."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.clock import SystemClock
from bot.paper import LentPool, PaperExchange, new_signing_secret
from bot.settings import Settings


async def test_paper_desks_share_the_engines_pool(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, exchange="sim", trading_mode="paper", data_dir=tmp_path)
    paper = PaperExchange(settings, SystemClock())
    await paper.sim.start()
    try:
        a, b = (paper.client_for(new_signing_secret()) for _ in range(2))
        pools = [api._transport._http._transport for api in (a, b)]
        assert all(isinstance(p, LentPool) for p in pools)
        assert pools[0]._pool is pools[1]._pool  # type: ignore[attr-defined]
        await a.place_order("BTC_USDC_PERP", "Bid", Decimal("0.001"), order_type="MARKET")
        await a.close()  # desk A evicted: its client closes, the pool stays open
        await b.place_order("BTC_USDC_PERP", "Bid", Decimal("0.002"), order_type="MARKET")
        qty = {p["symbol"]: p["netQuantity"] for p in await b.get_positions()}
        assert qty["BTC_USDC_PERP"] == Decimal("0.002")  # B's own account, not A's
        await b.close()
    finally:
        await paper.stop()
