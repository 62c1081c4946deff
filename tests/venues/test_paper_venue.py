"""The paper hedge account on a real venue's data, with the "real" venue a stub quoting in
USDT with its own steps: markets are converted from ccxt's, orders fill at the mirrored book."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock
from bot.paper import PaperHedgeOnReal, engine_row
from bot.settings import Settings
from bot.storage.db import Database
from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.paper_venue import PaperVenue
from bot.venues.port import FundingQuote, OrderBook, VenueMarket

D = Decimal
ETH = "ETH/USDT:USDT"
MARKET = VenueMarket(
    symbol=ETH,
    base="ETH",
    quote="USDT",
    settle="USDT",
    tick=D("0.05"),
    step=D("0.003"),
    min_quantity=D("0.006"),
    min_notional=D(5),
    taker_fee=D("0.0004"),
)
#: Listed by the "real" venue but not on Backpack: added to the paper engine on first use.
SOL = "SOL/USDT:USDT"
SOL_MARKET = VenueMarket(SOL, "SOL", "USDT", "USDT", D("0.01"), D("0.1"), D("0.1"), D(5), D(0))


class StubPrimary:
    """Backpack's markets: ETH only."""

    async def markets(self) -> dict[str, VenueMarket]:
        m = VenueMarket(
            "ETH_USDC_PERP", "ETH", "USDC", "USDC", D("0.01"), D("0.0001"), D(0), D(0), D(0)
        )
        return {m.symbol: m}


class StubReal(CcxtVenue):
    """The "real" venue's public data, without a network."""

    def __init__(self) -> None:
        super().__init__(None, "stubex")
        self.book = OrderBook(ETH, bids=((D("2999.95"), D(1)),), asks=((D("3000.05"), D(1)),))

    async def markets(self) -> dict[str, VenueMarket]:
        return {ETH: MARKET, SOL: SOL_MARKET}

    async def funding(self, symbol: str) -> FundingQuote:
        return FundingQuote(symbol, D("0.0001"), D(4), None, D(3000))

    async def order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        if symbol == SOL:
            return OrderBook(SOL, bids=((D("150.00"), D(50)),), asks=((D("150.02"), D(50)),))
        return self.book

    async def close(self) -> None:
        pass


def test_engine_row_carries_the_ccxt_steps() -> None:
    row = engine_row(MARKET)
    assert row["symbol"] == "ETH_USDT_PERP" and row["marketType"] == "PERP"
    assert row["filters"]["price"]["tickSize"] == "0.05"
    assert row["filters"]["quantity"] == {
        "stepSize": "0.003",
        "minQuantity": "0.006",
        "maxQuantity": None,
    }


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", clock=SystemClock())
    await database.start()
    yield database
    await database.close()


async def test_paper_orders_fill_at_the_real_book_on_the_real_interval(
    tmp_path: Path, db: Database
) -> None:
    settings: Any = Settings(
        _env_file=None,
        telegram_bot_token="1:x",
        data_dir=tmp_path,
        hedge_exchange="bybit",
        sim_tick_seconds=0.05,
    )
    real = StubReal()
    book = PaperHedgeOnReal(settings, SystemClock(), real)
    url, credentials = await book.start(db, StubPrimary())  # type: ignore[arg-type]
    paper = CcxtVenue(make_exchange("backpack", credentials, url), "stubex (paper)")
    venue = PaperVenue(real, paper, book.sync_market)
    try:
        assert book.sim is not None and book.sim.engine.funding_interval == 4 * 3600
        got = (await paper.markets())[ETH]  # ccxt reads the engine's market back
        assert (got.tick, got.step, got.min_quantity) == (D("0.05"), D("0.003"), D("0.006"))
        assert (await venue.balances())["USDT"] == settings.paper_balance
        real.book = OrderBook(ETH, bids=((D("3210.00"), D(5)),), asks=((D("3210.10"), D(5)),))
        order = await venue.place_order(ETH, "sell", D("0.3"), client_id=42)
        assert order.filled == D("0.3")
        (position,) = await venue.positions()
        assert position.symbol == ETH and position.quantity == D("-0.3")
        assert position.entry_price == D("3210.00")
        assert await venue.order_by_client_id(ETH, 42) is not None
        # Only the paired market was loaded; another is added on its first order.
        assert SOL not in await paper.markets()
        await venue.place_order(SOL, "buy", D("2"), client_id=43)
        held = {p.symbol: (p.quantity, p.entry_price) for p in await venue.positions()}
        assert held[SOL] == (D(2), D("150.02"))
    finally:
        await venue.close()
        await book.stop()
    assert (tmp_path / "paper-hedge-bybit.json").exists()
