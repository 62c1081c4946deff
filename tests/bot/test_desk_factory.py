"""The desk factory: a desk built once and shared, retired with a grace, rebuilt on its next
use — through the whole bot, paper mode, a stranger's desk opened with /start."""

from __future__ import annotations

from bot.services.access import Actor
from tests.bot.conftest import BotRunner
from tests.fakes.telegram import FakeTelegram

DAVE = 4004


async def test_a_dropped_desk_answers_what_is_on_its_way_then_is_closed_and_rebuilt(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    bot = open_bot
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    factory = bot.app.bot_data.factory
    desk = factory.shared.desks.active(DAVE).desk.id
    first = await factory.get(desk)
    assert await factory.get(desk) is first  # built once, shared
    await factory.drop(desk)
    me = Actor(DAVE, "owner", DAVE)
    assert await first.account.balances(me)  # still answers within its grace
    assert await factory.reap() == 0  # the grace has not passed
    second = await factory.get(desk)
    assert second is not first and second.desk.id == desk
    assert await factory.reap(everything=True) == 1
    assert first.account_api._transport._http.is_closed  # the retired clients are closed
    assert await second.account.balances(me)  # the new ones are not
