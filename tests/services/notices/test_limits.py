"""Telegram's limits as a pure schedule, on a clock moved by hand: per private chat, per group,
overall, and the pauses Telegram asks for."""

from __future__ import annotations

import pytest

from bot.clock import FakeClock
from bot.services.notices.limits import Limiter, Limits

ALICE, BOB, GROUP = 1001, 1002, -100500
NOW = pytest.approx(0.0, abs=1e-9)  # may go now (times are floats)


def send(limiter: Limiter, chat_id: int) -> None:
    """A message that Telegram answers at once."""
    limiter.answered(limiter.sent(chat_id))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def limiter(clock: FakeClock) -> Limiter:
    return Limiter(Limits(), now=clock.time)


def test_a_private_chat_gets_one_message_a_second(clock: FakeClock, limiter: Limiter) -> None:
    assert limiter.delay(ALICE) == NOW
    send(limiter, ALICE)
    assert limiter.delay(ALICE) == pytest.approx(1.0)
    assert limiter.delay(BOB) == NOW  # another chat is not held up
    clock.advance(0.4)
    assert limiter.delay(ALICE) == pytest.approx(0.6)
    clock.advance(0.6)
    assert limiter.delay(ALICE) == NOW


def test_a_group_gets_twenty_a_minute_in_a_sliding_window(
    clock: FakeClock, limiter: Limiter
) -> None:
    for _ in range(10):
        assert limiter.delay(GROUP) == NOW
        send(limiter, GROUP)
        clock.advance(0.1)  # 10 within the first second
    clock.advance(29.0)
    for _ in range(10):
        assert limiter.delay(GROUP) == NOW
        send(limiter, GROUP)
    # 20 in the last minute: the next waits until the first of them is a minute old.
    assert limiter.delay(GROUP) == pytest.approx(60.0 - 30.0)
    clock.advance(30.0)
    assert limiter.delay(GROUP) == NOW
    send(limiter, GROUP)  # the second of the first ten leaves the window 0.1 s later
    assert limiter.delay(GROUP) == pytest.approx(0.1)


def test_the_bot_sends_thirty_a_second_overall(clock: FakeClock, limiter: Limiter) -> None:
    for chat in range(1, 31):
        assert limiter.delay(chat) == NOW
        send(limiter, chat)
        clock.advance(0.01)
    assert limiter.delay(31) == pytest.approx(1.0 - 0.30)
    assert limiter.delay(GROUP) == pytest.approx(1.0 - 0.30)
    clock.advance(0.70)
    assert limiter.delay(31) == NOW
    send(limiter, 31)
    assert limiter.delay(32) == pytest.approx(0.01)


def test_retry_after_pauses_the_chat_and_two_at_once_pause_everything(
    clock: FakeClock, limiter: Limiter
) -> None:
    limiter.pause(ALICE, 5)
    assert limiter.delay(ALICE) == pytest.approx(5)
    assert limiter.delay(BOB) == NOW  # one chat over its limit: the others go on
    clock.advance(2)
    limiter.pause(BOB, 7)  # a second chat refused while the first still waits: the bot is over
    assert limiter.delay(GROUP) == pytest.approx(7)
    assert limiter.delay(ALICE) == pytest.approx(7)
    clock.advance(7)
    assert [limiter.delay(c) for c in (ALICE, BOB, GROUP)] == [NOW, NOW, NOW]
    limiter.pause(ALICE, 1)  # the earlier pauses are over: only Alice waits
    assert limiter.delay(ALICE) == pytest.approx(1)
    assert limiter.delay(BOB) == NOW


def test_telegram_can_pause_everything(clock: FakeClock, limiter: Limiter) -> None:
    limiter.pause(GROUP, 3, everything=True)
    assert limiter.delay(ALICE) == pytest.approx(3)
    clock.advance(3)
    assert limiter.delay(ALICE) == NOW


def test_a_message_on_its_way_counts_as_sent_until_it_is_answered(
    clock: FakeClock, limiter: Limiter
) -> None:
    on_its_way = limiter.sent(ALICE)
    clock.advance(5)  # a slow request: it may reach Telegram any moment now
    assert limiter.delay(ALICE) == pytest.approx(1.0)
    limiter.answered(on_its_way)
    clock.advance(0.5)
    assert limiter.delay(ALICE) == pytest.approx(0.5)  # a second from its answer


def test_counts_stay_small_over_many_chats(clock: FakeClock, limiter: Limiter) -> None:
    for chat in range(5000):
        send(limiter, chat)
        clock.advance(0.05)
    assert limiter.delay(4999) == pytest.approx(0.95)
    assert len(limiter._all) <= 30
    assert len(limiter._chats) <= 1030  # chats a window no longer counts are forgotten
