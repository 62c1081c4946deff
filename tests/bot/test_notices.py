"""Who hears about the shared account's trading: fill and strategy notices follow roles.

Owners and traders get them by default, viewers only when they opt in, and anyone can mute
them with ``/notify`` — driven through the fake Telegram server against the paper bot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.services.strategy.control import CycleResult
from bot.strategy.executor import ExecutionReport, LegFill
from bot.strategy.model import Action
from jobs.strategy import deliver
from tests.bot.conftest import BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram

OWNER, TRADER, VIEWER = 1001, 1002, 1003
USERS = f"{OWNER}:owner,{TRADER}:trader,{VIEWER}:viewer"
BTC = "BTC_USDC_PERP"


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    runner = BotRunner(make_settings(tg, tmp_path, telegram_allowed_users=USERS))
    await runner.start()
    yield runner
    await runner.stop()


def _got(tg: FakeTelegram, user: int, text: str, after: int) -> bool:
    return any(text in m.text for m in tg.messages[after:] if m.chat_id == user)


async def _fill(bot: BotRunner, tg: FakeTelegram, expect_user: int) -> int:
    """Buy on the paper account outside the chat; wait for ``expect_user``'s fill notice."""
    mark = len(tg.messages)
    await bot.services.account_api.place_order(
        symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET"
    )
    await tg.next_message(expect_user, "Fill", after=mark)
    await bot.services.outbox.drain()
    return mark


async def test_fill_notices_go_to_owners_and_traders_and_viewers_who_opt_in(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    mark = await _fill(bot, tg, OWNER)
    assert _got(tg, TRADER, "Fill", mark)
    assert not _got(tg, VIEWER, "Fill", mark)

    shown = await tg.ask(VIEWER, "/notify", "Notifications")
    assert "fills and cancels: off (the default for a viewer)" in shown.text
    await tg.ask(VIEWER, "/notify fills on", "Saved")
    muted = await tg.ask(TRADER, "/notify fills off", "Saved")
    assert "fills and cancels: off\n" in muted.text

    mark = await _fill(bot, tg, VIEWER)
    assert _got(tg, OWNER, "Fill", mark)
    assert not _got(tg, TRADER, "Fill", mark)


async def test_strategy_reports_follow_roles_and_notify(bot: BotRunner, tg: FakeTelegram) -> None:
    action = Action(
        kind="open",
        symbol=BTC,
        strategy="directional",
        legs=(),
        reason="funding 0.05% per interval",
        funding_rate=Decimal("0.0005"),
        notional=Decimal(1000),
    )
    fill = LegFill(BTC, "Bid", Decimal("0.01"), Decimal("0.01"), Decimal(97000), "1")
    result = CycleResult("auto", reports=(ExecutionReport(action, fills=(fill,)),), chat_id=OWNER)

    async def delivered() -> int:
        mark = len(tg.messages)
        await deliver(bot.services, result)
        await bot.services.outbox.drain()
        return mark

    mark = await delivered()
    assert _got(tg, OWNER, "Strategy Opened", mark)
    assert _got(tg, TRADER, "Strategy Opened", mark)
    assert not _got(tg, VIEWER, "Strategy Opened", mark)

    shown = await tg.ask(OWNER, "/notify", "Notifications")
    assert "strategy trades: on (the default for an owner)" in shown.text
    await tg.ask(OWNER, "/notify strategy off", "strategy trades: off")
    await tg.ask(VIEWER, "/notify strategy on", "strategy trades: on")
    mark = await delivered()
    assert not _got(tg, OWNER, "Strategy Opened", mark)
    assert _got(tg, TRADER, "Strategy Opened", mark)
    assert _got(tg, VIEWER, "Strategy Opened", mark)
