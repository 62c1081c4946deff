"""The ``cross`` strategy end to end on two venues: A (simulator process) through our client,
B (another simulator process, 8-hour funding) through ccxt's ``backpack`` class."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bot.app
from bot.clock import Clock
from bot.paper import PaperHedge
from bot.settings import Settings
from bot.venues.ccxt_venue import CcxtVenue
from jobs.strategy import run_once
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.simproc import SimProcess

BTC = "BTC_USDC_PERP"


async def account(venue: SimProcess, keys: KeyPair) -> dict[str, Any]:
    c = Control(venue)
    try:
        acc: dict[str, Any] = (await c.state())["accounts"].get(keys.api_key, {})
        return acc
    finally:
        await c.close()


async def btc(venue: SimProcess, keys: KeyPair) -> Decimal:
    for p in (await account(venue, keys)).get("positions", []):
        if p["symbol"] == BTC:
            return Decimal(str(p["netQuantity"]))
    return Decimal(0)


async def orders(venue: SimProcess, keys: KeyPair) -> int:
    return len((await account(venue, keys)).get("orders", []))


async def control(venue: SimProcess, path: str, body: dict[str, Any] | None = None) -> None:
    c = Control(venue)
    try:
        await c.post(path, body)
    finally:
        await c.close()


async def spread(a: SimProcess, b: SimProcess, rate_a: str, rate_b: str) -> None:
    await control(a, "funding", {"symbol": BTC, "rate": rate_a})
    await control(b, "funding", {"symbol": BTC, "rate": rate_b})


async def setup(tg: FakeTelegram, mode: str) -> None:
    await tg.ask(ALICE, "/strategy set kind cross", "saved")
    await tg.ask(ALICE, "/strategy set symbols BTC", "saved")
    await tg.ask(ALICE, f"/strategy {mode}", mode)


async def test_approve_open_double_tap_funding_and_close(
    cross_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> None:
    await setup(tg, "approve")
    # A pays 0.01 % an hour; B 0.24 % every 8 h = 0.03 % an hour: short B, long A.
    await spread(venue_a, venue_b, "0.0001", "0.0024")
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
    assert "on the hedge venue" in proposal.text and "/hour" in proposal.text
    button = proposal.button("Execute")
    first = await tg.tap(ALICE, proposal, button)
    second = await tg.tap(ALICE, proposal, button)
    await tg.answer_to(first, 15)
    await tg.answer_to(second, 15)
    long_a, short_b = await btc(venue_a, keys), await btc(venue_b, hedge_keys)
    assert long_a > 0 and short_b == -long_a  # equal quantity, opposite sides
    assert (await orders(venue_a, keys), await orders(venue_b, hedge_keys)) == (1, 1)  # once
    status = await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")
    assert BTC in status.text and "BTC/USDC:USDC" in status.text
    positions = await tg.ask(ALICE, "/positions", "cross-venue pairs")
    line = next(x for x in positions.text.split("\n") if x.startswith("<b>BTC</b>"))
    assert "long" in line and "on backpack (" in line and "short" in line
    assert "on backpack (hedge) (liq." in line and " away" in line and line.endswith("delta 0")
    assert f"Close {BTC}" not in str(positions.buttons)  # one leg alone is never closed here

    # Funding settles on both venues: the long on A pays, the short on B receives.
    await control(venue_a, "settle")
    await control(venue_b, "settle")
    pnl = await tg.ask(ALICE, "/pnl", "Funding on backpack (hedge)")
    ours, theirs = pnl.text.split("Funding on backpack (hedge)")
    assert "funding -" in ours
    assert "BTC/USDC:USDC: funding +" in theirs

    # The spread closes (both 0.01 % an hour): the next cycle proposes closing both legs.
    await spread(venue_a, venue_b, "0.0001", "0.0008")
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    closing = await tg.next_message(ALICE, "Strategy proposes: Close", after=mark)
    assert "below the exit" in closing.text
    await tg.answer_to(await tg.tap(ALICE, closing, closing.button("Execute")), 15)
    assert (await btc(venue_a, keys), await btc(venue_b, hedge_keys)) == (Decimal(0), Decimal(0))


async def test_rejected_hedge_leg_unwinds_and_cools_down(
    cross_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> None:
    await setup(tg, "auto")
    await spread(venue_a, venue_b, "0.0001", "0.0024")
    fault = {"kind": "http_error", "status": 400, "path": "/api/v1/order", "count": 1}
    await control(venue_b, "fault", fault)
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    report = await tg.next_message(ALICE, "Strategy", after=mark, timeout=10)
    assert "order failed" in report.text and "unwound" in report.text
    assert (await btc(venue_a, keys), await btc(venue_b, hedge_keys)) == (Decimal(0), Decimal(0))
    assert await orders(venue_a, keys) == 2  # the entry and its unwind
    # The next cycle sees the same spread but the pair is cooling down: no loop.
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    await tg.ask(ALICE, "/help")  # a reply that comes after anything the cycle sent
    assert not [m for m in tg.messages[mark:] if "Strategy Opened" in m.text]
    assert await orders(venue_a, keys) == 2


async def test_auto_delta_check_repairs_a_diverged_leg(
    cross_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> None:
    await setup(tg, "auto")
    await spread(venue_a, venue_b, "0.0001", "0.0024")
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    await tg.next_message(ALICE, "Strategy Opened", after=mark, timeout=10)
    long_a = await btc(venue_a, keys)
    assert long_a > 0 and await btc(venue_b, hedge_keys) == -long_a
    # Someone buys back half of the short by hand on venue B: the legs no longer cancel.
    hedge = cross_bot.services.hedge
    assert hedge is not None
    half = (long_a / 2).quantize(Decimal("0.00001"))
    await hedge.place_order("BTC/USDC:USDC", "buy", half, client_id=77, reduce_only=True)
    mark = len(tg.messages)
    await run_once(cross_bot.services)
    await tg.next_message(ALICE, "legs diverge", after=mark, timeout=10)
    await tg.wait_for(lambda: any("delta repair" in m.text for m in tg.messages[mark:]), 10)
    assert await btc(venue_a, keys) == -(await btc(venue_b, hedge_keys))


async def test_open_button_on_arb_goes_through_the_preview(
    cross_bot: BotRunner,
    tg: FakeTelegram,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> None:
    await spread(venue_a, venue_b, "0.0001", "0.0024")
    arb = await tg.ask(ALICE, "/arb", "Best funding spreads")
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, arb, arb.button("Open BTC")), 10)
    proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
    assert (await btc(venue_a, keys), await btc(venue_b, hedge_keys)) == (Decimal(0), Decimal(0))
    await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)
    long_a = await btc(venue_a, keys)
    assert long_a > 0 and await btc(venue_b, hedge_keys) == -long_a


async def test_kind_cross_needs_a_hedge_venue(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/strategy set kind cross")
    assert "HEDGE_EXCHANGE" in reply.text


async def test_backtest_of_cross_on_both_venues_history(
    cross_bot: BotRunner, tg: FakeTelegram
) -> None:
    await tg.ask(ALICE, "/strategy set kind cross", "saved")
    mark = len(tg.messages)
    await tg.send(ALICE, "/backtest BTC 5d")
    photo = await tg.wait_for(lambda: next((m for m in tg.messages[mark:] if m.photo), None), 20)
    assert "Backtest BTC cross" in photo.text and "backpack vs backpack (hedge)" in photo.text
    assert "Funding earned on both venues" in photo.text


class _KeptHedge(PaperHedge):
    """The bot's own paper hedge simulator, kept where the test can reach its engine (paper
    simulators serve no control API)."""

    made: ClassVar[list[PaperHedge]] = []

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self.made.append(self)


async def test_offline_cross_trades_both_paper_simulators(
    tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.app, "PaperHedge", _KeptHedge)
    _KeptHedge.made.clear()
    runner = BotRunner(make_settings(tg, tmp_path, hedge_exchange="bybit"))
    await runner.start()
    try:
        services = runner.services
        assert services.paper is not None and isinstance(services.hedge, CcxtVenue)
        (hedge,) = _KeptHedge.made
        assert services.hedge.ex.urls["api"]["public"] == hedge.sim.rest_url
        services.paper.sim.engine.set_funding(BTC, Decimal("0.0001"))
        hedge.sim.engine.set_funding(BTC, Decimal("0.0024"))
        await setup(tg, "approve")
        mark = len(tg.messages)
        await run_once(services)
        proposal = await tg.next_message(ALICE, "Strategy proposes: Open", after=mark)
        await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)
        ours = {p.symbol: p.quantity for p in await services.venue.positions()}
        theirs = {p.symbol: p.quantity for p in await services.hedge.positions()}
        assert ours[BTC] > 0 and theirs["BTC/USDC:USDC"] == -ours[BTC]
    finally:
        await runner.stop()
