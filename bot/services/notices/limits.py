"""Telegram's sending limits for the bot as a whole, as a pure schedule (no I/O, no sleeping).

Telegram allows a bot about 30 messages a second overall, about one a second in one private
chat and 20 a minute in one group, and answers a call beyond them with ``429`` and a
``retry_after``. :class:`Limiter` remembers what was sent when and says how long a message to a
chat must still wait; the outbox (:mod:`bot.services.notices.outbox`) does the waiting and the
sending. Time comes from an injectable monotonic clock, so tests move it by hand.

Why not only python-telegram-bot's ``AIORateLimiter``: it is per process and per ``Bot``
instance, it knows the overall and the per-group limits but not the per-private-chat one, and it
delays a call inside ``send_message`` — one slow chat holds the sender while others wait behind
it. With several web and worker processes sending (issue 22) each would allow itself 30 a
second, so the bot as a whole would send N × 30. There the same schedule moves into PostgreSQL:
the sliding windows become rows (``sends(chat_id, sent_at, answered_at)`` and the pauses
``pauses(chat_id NULL for everything, until)``), and a sender claims its next message with one
transaction that locks the chat's row (``SELECT … FOR UPDATE SKIP LOCKED``, so two senders never
take one chat and a chat's order is kept), counts the windows as :meth:`Limiter.delay` does here,
and records the send — the arithmetic below stays the same; only where the counts live changes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: A paused chat or bot this many chats at once means the bot as a whole is over its limit.
EVERYTHING_AFTER = 2


@dataclass(frozen=True, slots=True)
class Limits:
    """How many messages may go per window (seconds): overall, per private chat, per group."""

    overall: int = 30
    overall_window: float = 1.0
    private: int = 1
    private_window: float = 1.0
    group: int = 20
    group_window: float = 60.0


class Throttled(Exception):
    """Telegram said ``retry_after``: nothing more to this chat (or, with ``everything``, to
    anyone) for that many seconds. Transports raise it; the outbox waits and sends again."""

    def __init__(self, retry_after: float, *, everything: bool = False) -> None:
        super().__init__(f"retry after {retry_after:g} s")
        self.retry_after = retry_after
        self.everything = everything


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids; private chats positive ones."""
    return chat_id < 0


class Sent:
    """One message counted by the windows: it counts from when Telegram answered it (it had
    reached Telegram by then), and as sent *now* while it is still on its way — so however long
    a request travels, the windows Telegram sees are never fuller than ours."""

    __slots__ = ("answered_at",)

    def __init__(self) -> None:
        self.answered_at: float | None = None

    def at(self, now: float) -> float:
        return now if self.answered_at is None else self.answered_at


class Limiter:
    """Sliding windows over what was sent, and the pauses Telegram asked for."""

    def __init__(
        self, limits: Limits | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or Limits()
        self.now = now
        self._all: deque[Sent] = deque()
        self._chats: dict[int, deque[Sent]] = {}
        self._paused: dict[int, float] = {}
        self._everything_until = 0.0
        self._tidy_at = 1024

    def delay(self, chat_id: int) -> float:
        """Seconds until a message to ``chat_id`` may go; 0 when it may go now."""
        now = self.now()
        lim = self.limits
        wait = max(0.0, self._everything_until - now, self._paused.get(chat_id, 0.0) - now)
        wait = max(wait, _window_wait(self._all, lim.overall, lim.overall_window, now))
        sent = self._chats.get(chat_id)
        if sent:
            count, window = self._window(chat_id)
            wait = max(wait, _window_wait(sent, count, window, now))
        return wait

    def sent(self, chat_id: int) -> Sent:
        """A message to ``chat_id`` goes now; call :meth:`answered` with the result when
        Telegram has answered it (whatever the answer)."""
        now = self.now()
        sent = Sent()
        self._all.append(sent)
        self._chats.setdefault(chat_id, deque()).append(sent)
        self._forget(now, chat_id)
        return sent

    def answered(self, sent: Sent) -> None:
        sent.answered_at = self.now()

    def pause(self, chat_id: int, seconds: float, *, everything: bool = False) -> None:
        """Telegram's ``retry_after`` for ``chat_id``. It pauses every chat when Telegram says
        so, or when another chat is still paused: two chats refused at once means the bot's
        overall limit, not one chat's, was hit."""
        now = self.now()
        until = now + seconds
        self._paused = {c: t for c, t in self._paused.items() if t > now}
        self._paused[chat_id] = max(until, self._paused.get(chat_id, 0.0))
        if everything or len(self._paused) >= EVERYTHING_AFTER:
            self._everything_until = max(self._everything_until, until)

    def _window(self, chat_id: int) -> tuple[int, float]:
        lim = self.limits
        if is_group(chat_id):
            return lim.group, lim.group_window
        return lim.private, lim.private_window

    def _forget(self, now: float, chat_id: int) -> None:
        """Drop sends no window looks at any more, so every count stays small."""
        _trim(self._all, now - self.limits.overall_window)
        _trim(self._chats[chat_id], now - self._window(chat_id)[1])
        if len(self._chats) > self._tidy_at:  # chats no window counts any more are forgotten
            self._chats = {
                c: q for c, q in self._chats.items() if _trim(q, now - self._window(c)[1])
            }
            self._tidy_at = max(1024, 2 * len(self._chats))


def _trim(sends: deque[Sent], before: float) -> bool:
    """Drop the answered sends from before ``before`` at the front; True when any are left."""
    while sends and sends[0].answered_at is not None and sends[0].answered_at <= before:
        sends.popleft()
    return bool(sends)


def _window_wait(sends: deque[Sent], count: int, window: float, now: float) -> float:
    """How long until fewer than ``count`` of ``sends`` lie within ``window``."""
    inside = sorted(t for t in (s.at(now) for s in sends) if t > now - window)
    if len(inside) < count:
        return 0.0
    return inside[-count] + window - now
