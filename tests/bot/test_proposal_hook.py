"""The outbox table's ``"proposal"`` hook (:func:`jobs.strategy.proposal_hook`): told
``"<desk>:<token>"`` and the new message's id by a sender in any process, it remembers the
message on that desk's confirmation — what ``attach`` does in one process — so the expiry
sweeper can edit it later."""

from __future__ import annotations

from jobs.strategy import proposal_hook
from tests.bot.conftest import ALICE, BotRunner
from tests.fakes.telegram import FakeTelegram


async def test_the_proposal_hook_attaches_the_message_on_its_desk(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    preview = await tg.ask(ALICE, "/buy BTC 0.01")
    token = preview.button("Confirm").removeprefix("tc:")
    services = paper_bot.services
    store = services.trading.store
    before = await store.get(token)
    assert before is not None and before.message_id != 4242
    hook = proposal_hook(paper_bot.app.bot_data.factory)
    await hook(f"{services.desk.id}:{token}", 4242)
    after = await store.get(token)
    assert after is not None and after.message_id == 4242
