"""Dust: a carry's spot leg is booked net of the fee taken in BTC, and what a close leaves
below the spot market's step is reported once as dust and never traded again."""

from __future__ import annotations

from decimal import Decimal

from tests.bot.conftest import ALICE, BotRunner
from tests.bot.test_events import settled
from tests.bot.test_strategy import _balances, strategy_bot  # noqa: F401 - the fixture
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram, Sent
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


async def approve_next(bot: BotRunner, tg: FakeTelegram, after: int) -> Sent:
    """Approve the next proposal: one tap, one edit, no other message about its two fills."""
    proposal = await tg.next_message(ALICE, BTC, after=after, timeout=15)
    await tg.wait_for(lambda: any("Execute" in label for label, _ in proposal.buttons), 5)
    before, skipped = len(tg.to(ALICE)), bot.services.fills.skipped
    await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)
    await tg.wait_for(lambda: not proposal.buttons, 10)
    await settled(bot, tg, skipped=skipped + 2)  # the perp's and the spot's fill
    assert len(tg.to(ALICE)) == before, [m.text[:80] for m in tg.to(ALICE)[before:]]
    return proposal


async def test_a_carry_closes_without_a_dust_leftover(
    strategy_bot: BotRunner,  # noqa: F811 - the fixture
    tg: FakeTelegram,
    sim_control: Control,
    keys: KeyPair,
) -> None:
    svc = strategy_bot.services.strategy
    await tg.ask(ALICE, "/strategy approve", "approve")
    await sim_control.post("funding", {"symbol": BTC, "rate": "0.001"})
    await approve_next(strategy_bot, tg, len(tg.messages))
    (pos,) = (await svc.store.portfolio()).positions
    held = Decimal(str((await _balances(sim_control, keys))["BTC"]["available"]))
    # The spot buy's fee came out of the BTC bought: the strategy expects what is held.
    assert pos.spot_quantity == held and held % Decimal("0.00001") != 0
    assert await svc.reconcile() == []  # before: "holding 0.00496503, had 0.00497"

    mark = len(tg.messages)
    await sim_control.post("funding", {"symbol": BTC, "rate": "-0.001"})
    closed = await approve_next(strategy_bot, tg, mark)
    assert "dust" in closed.text and "left to sell" not in closed.text, closed.text
    assert (await svc.store.portfolio()).positions == ()  # nothing kept to retry
    left = Decimal(str((await _balances(sim_control, keys))["BTC"]["available"]))
    assert 0 < left < Decimal("0.00001")
    assert f"{left.normalize():f} BTC" in closed.text
