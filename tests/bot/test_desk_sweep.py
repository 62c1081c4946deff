"""The expiry sweeper finds the desks with a preview due in one question across desks, and
edits each desk's untapped preview into "Expired" (``jobs.trading.sweep_all``)."""

from __future__ import annotations

import time
from pathlib import Path

from bot.clock import FakeClock
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram

DAVE = 4004


async def test_untapped_previews_of_two_desks_expire(tg: FakeTelegram, tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    bot = BotRunner(make_settings(tg, tmp_path, signup="open", confirm_ttl_seconds=30), clock=clock)
    await bot.start()
    try:
        await tg.ask(DAVE, "/start", contains="is open, on paper")
        mine = await tg.ask(ALICE, "/buy BTC 0.01", contains="order preview")
        theirs = await tg.ask(DAVE, "/buy BTC 0.02", contains="order preview")
        clock.advance(31)
        # Nobody taps: the sweeper (every 5 s) edits both, each on its own desk.
        await tg.wait_for(
            lambda: all("Expired" in tg.find(p.message_id).text for p in (mine, theirs)),
            timeout=15,
        )
        assert "0.01" in tg.find(mine.message_id).text
        assert "0.02" in tg.find(theirs.message_id).text
    finally:
        await bot.stop()
