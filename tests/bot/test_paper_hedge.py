"""Paper mode on real data with a hedge venue: the hedge leg trades on a paper hedge account
whose fills come from the real hedge venue's book. Both "real" venues are simulator processes:
A plays Backpack (through our client), B the hedge venue (through ccxt's ``backpack`` class)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.venues.ccxt_venue import CcxtVenue
from bot.venues.paper_venue import PaperVenue
from jobs.strategy import run_once
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.bot.test_cross import BTC, control, setup, spread
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.simproc import SimProcess

HEDGE_BTC = "BTC/USDC:USDC"


def paper_settings(tg: FakeTelegram, tmp_path: Path, a: SimProcess, hedge_url: str) -> Any:
    return make_settings(
        tg,
        tmp_path,
        trading_mode="paper",
        exchange="backpack",
        backpack_api_url=a.rest_url,
        backpack_ws_url=a.ws_url,
        hedge_exchange="backpack",
        hedge_api_url=hedge_url,
    )


@pytest.fixture
async def paper_cross_bot(
    tg: FakeTelegram, tmp_path: Path, venue_a: SimProcess, venue_b: SimProcess
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(paper_settings(tg, tmp_path, venue_a, venue_b.rest_url))
    await runner.start()
    yield runner
    await runner.stop()


async def accounts_on(venue: SimProcess) -> dict[str, Any]:
    """Every account the "real" venue holds, by API key."""
    c = Control(venue)
    try:
        accounts: dict[str, Any] = (await c.state())["accounts"]
    finally:
        await c.close()
    return accounts


async def test_paper_cross_fills_the_hedge_leg_on_paper_at_the_real_hedge_book(
    paper_cross_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    venue_b: SimProcess,
    tmp_path: Path,
) -> None:
    services = paper_cross_bot.services
    assert isinstance(services.hedge, PaperVenue)
    # Distinctive prices: the hedge fill must come from B's book, not A's nor a placeholder.
    await control(venue_a, "price", {"symbol": BTC, "price": "149000"})
    await control(venue_b, "price", {"symbol": BTC, "price": "150000"})
    await setup(tg, "approve")
    await spread(venue_a, venue_b, "0.0001", "0.0024")  # short B, long A
    mark = len(tg.messages)
    await run_once(services)
    proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
    await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)

    ours = {p.symbol: p for p in await services.venue.positions()}
    theirs = {p.symbol: p for p in await services.hedge.positions()}
    assert ours[BTC].quantity > 0 and theirs[HEDGE_BTC].quantity == -ours[BTC].quantity
    entry = theirs[HEDGE_BTC].entry_price
    assert entry is not None and abs(entry - Decimal(150000)) < Decimal(750), entry
    # Nothing reached either "real" venue: both legs were paper fills.
    for real in (venue_a, venue_b):
        accounts = await accounts_on(real)
        assert not [o for acc in accounts.values() for o in acc.get("orders", [])], accounts
    assert (tmp_path / "data" / "paper-hedge-backpack.json").exists()

    # The paper hedge account is durable: after a restart it still holds the short.
    await paper_cross_bot.stop()
    await paper_cross_bot.start()
    hedge = paper_cross_bot.services.hedge
    assert isinstance(hedge, PaperVenue)
    again = {p.symbol: p.quantity for p in await hedge.positions()}
    assert again[HEDGE_BTC] == theirs[HEDGE_BTC].quantity


async def test_unreachable_hedge_venue_falls_back_to_compare_only(
    tg: FakeTelegram, tmp_path: Path, venue_a: SimProcess
) -> None:
    runner = BotRunner(paper_settings(tg, tmp_path, venue_a, "http://127.0.0.1:1"))
    await runner.start()
    try:
        assert isinstance(runner.services.hedge, CcxtVenue)  # data only, never orders
        reply = await tg.ask(ALICE, "/strategy set kind cross")
        assert "saved" not in reply.text
    finally:
        await runner.stop()
