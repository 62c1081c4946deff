"""``EXCHANGE=sim HEDGE_EXCHANGES=hyperliquid``: a newcomer opens, watches and closes a
Backpack ↔ Hyperliquid pair offline — the hedge venue is the simulator's Hyperliquid face
in-process, reached through ccxt's own ``hyperliquid`` class with an agent wallet."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

import bot.venues.opening
from bot.clock import Clock
from bot.paper import PaperHyperliquid
from bot.settings import Settings
from bot.venues.ccxt_venue import CcxtVenue
from jobs.strategy import run_once
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.bot.test_cross import setup
from tests.fakes.telegram import FakeTelegram

BTC = "BTC_USDC_PERP"


class _KeptFace(PaperHyperliquid):
    """The bot's own Hyperliquid face, kept where the test can reach its engine (a paper
    simulator serves no control API)."""

    made: ClassVar[list[PaperHyperliquid]] = []

    def __init__(self, settings: Settings, clock: Clock, seed: int) -> None:
        super().__init__(settings, clock, seed)
        self.made.append(self)


async def test_open_watch_and_close_a_pair_on_the_hyperliquid_face(
    tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.venues.opening, "PaperHyperliquid", _KeptFace)
    _KeptFace.made.clear()
    runner = BotRunner(make_settings(tg, tmp_path, hedge_exchanges="hyperliquid"))
    await runner.start()
    try:
        services = runner.services
        assert services.paper is not None
        hedge = services.hedge
        assert isinstance(hedge, CcxtVenue) and hedge.ex.id == "hyperliquid"
        hl_url = str(hedge.ex.urls["api"]["public"])
        engine = services.paper.sim.engine
        engine.set_funding(BTC, Decimal("0.0001"))
        (face,) = _KeptFace.made
        assert face.sim.rest_url == hl_url and face.sim.control_token is None
        face.sim.engine.set_funding(BTC, Decimal("0.0006"))

        await setup(tg, "approve")
        arb = await tg.ask(ALICE, "/arb", "Best funding spreads", timeout=30)
        assert "<b>BTC</b> on hyperliquid (sim)" in arb.text
        await tg.answer_to(await tg.tap(ALICE, arb, arb.button("Open BTC")), 30)
        proposal = await tg.next_message(ALICE, "Strategy proposes: Open", timeout=20)
        done = await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 30)
        assert "Opened" in done.text or done.text == "", done.text
        positions = await tg.ask(ALICE, "/positions", "cross-venue pairs", timeout=20)
        line = next(x for x in positions.text.split("\n") if x.startswith("<b>BTC</b>"))
        assert "short" in line and "on hyperliquid (sim) (liq." in line
        assert line.endswith("delta 0")

        # Watch: the spread's history as a chart, with its stability.
        chart = await tg.ask(ALICE, "/chart spread BTC hyperliquid 7d", "backpack vs", timeout=30)
        assert chart.photo and "hyperliquid (sim): spread APR now" in chart.text
        assert "median 3d " in chart.text and "7d " in chart.text
        wrong = await tg.ask(ALICE, "/chart spread BTC okx", "not a configured hedge venue")
        assert "hyperliquid" in wrong.text

        # The spread closes: the next cycle proposes closing both legs; ✅ closes them.
        face.sim.engine.set_funding(BTC, Decimal("0.0001"))
        mark = len(tg.messages)
        await run_once(services)
        closing = await tg.next_message(ALICE, "Strategy proposes: Close", after=mark, timeout=20)
        await tg.answer_to(await tg.tap(ALICE, closing, closing.button("Execute")), 30)
        after = await tg.ask(ALICE, "/positions", "", timeout=20)
        assert "<b>BTC</b>" not in after.text
        assert [p for p in await hedge.positions() if p.symbol == "BTC/USDC:USDC"] == []
    finally:
        await runner.stop()
