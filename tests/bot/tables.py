"""What the table-driven tests of the bot share: waiting for the bot to finish a batch of
updates, and trying one door (a typed command or a button's data) and collecting what it said.

``tests/bot/test_permissions.py`` (roles × chats) and ``tests/bot/test_desk_isolation.py``
(desk A against desk B's objects) drive the whole bot through the embedded Bot API with these.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.bot.conftest import BotRunner
from tests.fakes.telegram import FakeTelegram, Sent

#: The sentence of a fault of the bot (``handlers.common.fault_text`` and a button's answer):
#: a door that ends in it was not answered specifically.
FAULT = "a fault in the bot"


async def idle(runner: BotRunner, tg: FakeTelegram, timeout: float = 20.0) -> None:
    """Wait until the bot has fetched every update sent so far and finished handling them."""
    app = runner.app
    store = tg.server.store
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def quiet() -> bool:
        return (
            not store._updates  # acknowledged: the next getUpdates dropped them
            and app.update_queue.empty()
            and app.update_processor.current_concurrent_updates == 0
        )

    calm = 0
    while calm < 20:  # idle across several turns of the loop: no task still starting
        assert loop.time() < deadline, "the bot did not finish its updates in time"
        calm = calm + 1 if quiet() else 0
        await asyncio.sleep(0 if calm else 0.005)


@dataclass
class Said:
    """What one door got back: the messages sent to the user's chat, and a tap's answer."""

    door: str
    messages: list[str] = field(default_factory=list)
    answer: str | None = None

    @property
    def texts(self) -> list[str]:
        return [*self.messages, *([self.answer] if self.answer else [])]

    @property
    def silent(self) -> bool:
        return not any(t.strip() for t in self.texts)

    def shows(self, word: str) -> bool:
        return any(word in t for t in self.texts)


def is_tap(door: str) -> bool:
    """A door is a button's callback data unless it is a typed command."""
    return not door.startswith("/")


async def knock(
    runner: BotRunner, tg: FakeTelegram, user: int, door: str, under: Sent | None = None
) -> Said:
    """Type ``door`` (a command) or tap a button carrying it (under the message ``under``, one
    of the user's own), wait until the bot is idle, and return what it said to the user."""
    mark = len(tg.messages)
    query = None
    if is_tap(door):
        assert under is not None, "a tap needs a message to be under"
        query = await tg.tap(user, under, door)
    else:
        await tg.send(user, door)
    await idle(runner, tg)
    said = Said(door, [m.text for m in tg.messages[mark:] if m.chat_id == user])
    if query is not None:
        # Idle: every handler of the tap has finished, so an answer it gave is here.
        said.answer = next((a.text for a in tg.answers if a.callback_query_id == query), None)
    return said
