"""The outbox's sender over a transport that records when each message left: a chat's order is
kept, a limited chat never holds the others up, ``retry_after`` pauses and resends, quiet hours
and merging work as before. Windows are short (``Limits``) so the test runs in a moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.clock import SystemClock
from bot.services.notices.limits import Limiter, Limits, Throttled
from bot.services.notices.outbox import Note, Outbox
from bot.storage.alerts import NotifySettings

ALICE, BOB, GROUP = 1001, 1002, -100500
FAST = Limits(overall=100, private=1, private_window=0.05, group=2, group_window=0.5)


@dataclass
class Recorder:
    """A transport: what went out, to whom, when; ``refuse`` answers that chat's next calls
    with ``retry_after``."""

    sent: list[tuple[float, int, str]] = field(default_factory=list)
    refused: list[tuple[float, int]] = field(default_factory=list)
    refuse: dict[int, tuple[int, Throttled]] = field(default_factory=dict)

    def _gate(self, chat_id: int) -> None:
        times, exc = self.refuse.get(chat_id, (0, Throttled(0)))
        if times > 0:
            self.refuse[chat_id] = (times - 1, exc)
            self.refused.append((asyncio.get_running_loop().time(), chat_id))
            raise exc

    async def send(self, chat_id: int, text: str, markup: object | None) -> int:
        self._gate(chat_id)
        self.sent.append((asyncio.get_running_loop().time(), chat_id, text))
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str, markup: object | None) -> None:
        self._gate(chat_id)
        self.sent.append((asyncio.get_running_loop().time(), chat_id, f"edit {message_id}: {text}"))

    async def edit_markup(self, chat_id: int, message_id: int, markup: object | None) -> None:
        self._gate(chat_id)
        self.sent.append((asyncio.get_running_loop().time(), chat_id, f"buttons {message_id}"))

    def texts(self, chat_id: int) -> list[str]:
        return [text for _, chat, text in self.sent if chat == chat_id]

    def times(self, chat_id: int) -> list[float]:
        return [t for t, chat, _ in self.sent if chat == chat_id]


QUIET: set[int] = set()


async def _settings(user_id: int) -> NotifySettings:
    if user_id in QUIET:  # quiet all day
        return NotifySettings(user_id, user_id, quiet_start=0, quiet_end=24)
    return NotifySettings(user_id, user_id)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def outbox(recorder: Recorder) -> AsyncIterator[Outbox]:
    box = Outbox(SystemClock(), _settings, limiter=Limiter(FAST))
    box.start(recorder)
    yield box
    await box.stop()
    QUIET.clear()


def _note(chat: int, text: str, **kw: object) -> Note:
    return Note(chat, chat if chat > 0 else None, text, **kw)  # type: ignore[arg-type]


async def _remember(_message_id: int) -> None:
    return None


async def test_a_chat_s_notes_keep_their_order_and_merge_only_in_a_row(
    outbox: Outbox, recorder: Recorder
) -> None:
    outbox.send(_note(ALICE, "a1"))
    outbox.send(_note(ALICE, "a2", on_sent=_remember))  # never merged, never overtaken
    outbox.send(_note(ALICE, "a3"))
    outbox.send(_note(ALICE, "a4"))
    outbox.send(_note(ALICE, "a5", edit=7))
    outbox.send(_note(ALICE, "", edit=7, only_markup=True))
    await outbox.drain()
    assert recorder.texts(ALICE) == ["a1", "a2", "a3\n\na4", "edit 7: a5", "buttons 7"]
    assert (outbox.sent_messages, outbox.sent_notes) == (5, 6)
    gaps = [b - a for a, b in zip(recorder.times(ALICE), recorder.times(ALICE)[1:], strict=False)]
    assert min(gaps) >= FAST.private_window - 0.005  # one message a window per private chat


async def test_a_group_over_its_limit_holds_up_no_one_else(
    outbox: Outbox, recorder: Recorder
) -> None:
    for i in range(5):
        outbox.send(_note(GROUP, f"g{i}", on_sent=_remember))
    outbox.send(_note(ALICE, "hello"))
    await outbox.drain()
    assert recorder.texts(GROUP) == [f"g{i}" for i in range(5)]
    group = recorder.times(GROUP)
    assert recorder.times(ALICE)[0] < group[2]  # Alice did not wait behind the group
    for i in range(2, 5):  # never more than 2 within any half second
        assert group[i] - group[i - 2] >= FAST.group_window - 0.005


async def test_retry_after_pauses_the_chat_then_sends_the_same_message(
    outbox: Outbox, recorder: Recorder
) -> None:
    recorder.refuse[ALICE] = (2, Throttled(0.2))
    outbox.send(_note(ALICE, "first"))
    outbox.send(_note(ALICE, "second", on_sent=_remember))
    outbox.send(_note(BOB, "bob"))
    await outbox.drain()
    assert recorder.texts(ALICE) == ["first", "second"]  # not dropped, order kept
    refused = [t for t, _ in recorder.refused]
    assert len(refused) == 2 and refused[1] - refused[0] >= 0.2 - 0.005
    assert recorder.times(ALICE)[0] - refused[1] >= 0.2 - 0.005
    assert recorder.times(BOB)[0] < refused[1]  # only Alice's chat was paused


async def test_retry_after_for_everything_pauses_every_chat(
    outbox: Outbox, recorder: Recorder
) -> None:
    recorder.refuse[ALICE] = (1, Throttled(0.2, everything=True))
    outbox.send(_note(ALICE, "first"))
    await _poll(lambda: bool(recorder.refused))
    outbox.send(_note(BOB, "bob"))
    await outbox.drain()
    assert recorder.times(BOB)[0] - recorder.refused[0][0] >= 0.2 - 0.005
    assert recorder.texts(ALICE) == ["first"]


async def test_quiet_hours_hold_all_but_critical_notes(outbox: Outbox, recorder: Recorder) -> None:
    QUIET.add(ALICE)
    outbox.send(_note(ALICE, "later"))
    outbox.send(_note(ALICE, "now", critical=True))
    await outbox.drain()
    assert recorder.texts(ALICE) == ["now"]
    assert [n.text for n in outbox.held] == ["later"]
    QUIET.clear()
    assert await outbox.release_held() == 1
    await outbox.drain()
    assert recorder.texts(ALICE) == ["now", "later"]
    assert outbox.pending() == 0


async def _poll(ready: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for ``ready()`` with a deadline (the transport has no event to wait on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)
