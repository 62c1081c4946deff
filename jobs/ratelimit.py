"""A web process's replies kept within Telegram's limits for the whole bot.

A handler answering a command calls the Bot API itself; python-telegram-bot's
``AIORateLimiter`` counts only its own process, so several web processes plus the outbox's
senders (:mod:`bot.services.notices.senders`) together went past Telegram's ~30 messages a
second. :class:`SharedRateLimiter` is a ``BaseRateLimiter`` whose messages — the ``send*``
(but ``sendChatAction``), ``edit*``, ``copyMessage(s)`` and ``forwardMessage(s)`` calls that
name a ``chat_id``: Telegram's limits count messages in chats, not ``answerCallbackQuery`` or
``getMe`` — take a slot of the senders' bot-wide window and keep the chat's pace (a private chat
one a second, a group every 3 s) in the same rows (:class:`~bot.services.notices.rate
.ReplySlots`). Under the limit that is one transaction before the call and one statement after.

A ``retry_after`` pauses the chat where the senders see it (``outbox_chats.next_ms``) — or
everything (chat ``0``) when Telegram refuses a second chat while one is still paused — and the
call is made once more after the pause; a second refusal is raised (``RetryAfter``). Any other
call goes straight through, once more after a ``retry_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.clock import Clock
from bot.services.notices.limits import EVERYTHING_AFTER, Limits
from bot.services.notices.rate import ReplySlots
from bot.storage.db import Database

log = logging.getLogger("jobs.ratelimit")

Result = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, Result]]

#: Endpoints that are messages in a chat (with a ``chat_id``).
COUNTED = ("send", "edit", "copyMessage", "forwardMessage")
NOT_COUNTED = frozenset({"sendChatAction"})
#: The longest a reply waits for its turn before the call fails with ``TimedOut``.
GIVE_UP = 30.0


def counted_chat(endpoint: str, data: dict[str, Any]) -> tuple[bool, int | None]:
    """Whether the call is a message that counts, and its chat (None: a ``@username``)."""
    chat = data.get("chat_id")
    if chat is None or endpoint in NOT_COUNTED or not endpoint.startswith(COUNTED):
        return False, None
    with contextlib.suppress(TypeError, ValueError):
        return True, int(chat)
    return True, None


class SharedRateLimiter(BaseRateLimiter[None]):
    """See the module's docstring. :meth:`bind` gives it the database once the process has
    opened it (a counted call before that is refused with ``RuntimeError``)."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        call_timeout: float = 10.0,
        give_up: float = GIVE_UP,
    ) -> None:
        self.limits = limits or Limits()
        self.call_timeout = call_timeout
        self.give_up = give_up
        self.slots: ReplySlots | None = None
        self._stopping = asyncio.Event()
        self._paused: dict[int, float] = {}

    def bind(self, db: Database, clock: Clock) -> None:
        self.slots = ReplySlots(db, clock, self.limits, self.call_timeout)

    async def initialize(self) -> None:
        self._stopping.clear()

    async def shutdown(self) -> None:
        self._stopping.set()

    async def process_request(  # noqa: PLR0917 - BaseRateLimiter's signature
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Result:
        counted, chat = counted_chat(endpoint, data)
        if not counted:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc))
                return await callback(*args, **kwargs)
        for attempt in (1, 2):
            try:
                return await self._counted(callback, args, kwargs, chat)
            except RetryAfter as exc:
                await self._pause(chat, _seconds(exc))
                if attempt == 2:
                    raise
                # A private chat's reply does not wait for the chat's pace (rate.paced): it
                # waits out Telegram's pause here, the senders by the paused row.
                await asyncio.sleep(_seconds(exc))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _counted(
        self, callback: Callback, args: Any, kwargs: dict[str, Any], chat: int | None
    ) -> Result:
        slots = self.slots
        if slots is None:
            raise RuntimeError("the shared rate limiter has no database yet")
        key = await self._turn(slots, chat)
        try:
            return await callback(*args, **kwargs)
        finally:
            await slots.answered(key, chat)

    async def _turn(self, slots: ReplySlots, chat: int | None) -> int:
        """Wait until the window and the chat's pace let the message go; its key."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up
        while not self._stopping.is_set():
            key, wait_ms = await slots.take(chat)
            if key is not None:
                return key
            if loop.time() + wait_ms / 1000 > give_up:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_ms / 1000):
                    await self._stopping.wait()
        raise TimedOut("no turn to send within Telegram's limits")

    async def _pause(self, chat: int | None, seconds: float) -> None:
        """Telegram's ``retry_after``: the chat's pace row (the senders wait for it too), and
        everything's when a second chat is refused while one is still paused."""
        slots = self.slots
        assert slots is not None  # a counted call got this far
        log.info("Telegram asked to wait %gs before chat %s", seconds, chat)
        now = time.monotonic()
        self._paused = {c: t for c, t in self._paused.items() if t > now}
        if chat is not None:
            self._paused[chat] = now + seconds
            await slots.pause(chat, seconds)
        if chat is None or len(self._paused) >= EVERYTHING_AFTER:
            await slots.pause(0, seconds)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int form is deprecated; both are read here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
