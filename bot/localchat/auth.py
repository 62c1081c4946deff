"""Who may use the chat page: a password (or the key in the printed URL), few guesses, sessions
that end.

Guessing is limited by counting, not by sleeping: a delay per wrong answer slows one request,
and a thousand parallel requests wait that second together. :class:`Attempts` admits at most
``per_client`` logins per client and ``overall`` logins in all per ``window`` seconds, wrong or
right, checked and recorded in one synchronous step (no ``await`` between the two), so
parallel requests cannot slip past it; a request over the limit is refused before its password
is even compared, so a right guess among the late ones does not get in either.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable

MIN_PASSWORD = 12
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 64


class Attempts:
    """A sliding-window count of login attempts, per client and overall."""

    def __init__(
        self,
        *,
        per_client: int = 5,
        overall: int = 20,
        window: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self._now = now
        self._all: deque[float] = deque()
        self._by_client: dict[str, deque[float]] = {}

    def admit(self, client: str) -> bool:
        """Record an attempt by ``client`` and say whether it may go ahead."""
        now = self._now()
        _forget(self._all, now - self.window)
        mine = self._by_client.get(client)
        if mine is not None:
            _forget(mine, now - self.window)
        if len(self._all) >= self.overall or (mine is not None and len(mine) >= self.per_client):
            return False
        if len(self._by_client) > 4 * self.overall:  # forget clients seen long ago
            recent = now - self.window
            self._by_client = {c: d for c, d in self._by_client.items() if d and d[-1] > recent}
        self._all.append(now)
        self._by_client.setdefault(client, deque()).append(now)
        return True

    def retry_after(self) -> int:
        """Seconds until the oldest counted attempt leaves the window (for ``Retry-After``)."""
        if not self._all:
            return 1
        return max(1, int(self._all[0] + self.window - self._now()) + 1)


class Sessions:
    """Random session ids that expire after ``ttl`` seconds (and with the process)."""

    def __init__(
        self,
        ttl: float = SESSION_SECONDS,
        limit: int = MAX_SESSIONS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.limit = limit
        self._now = now
        self._expiry: dict[str, float] = {}

    def new(self) -> str:
        now = self._now()
        self._expiry = {s: t for s, t in self._expiry.items() if t > now}
        while len(self._expiry) >= self.limit:  # the oldest goes first
            del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
        session = secrets.token_urlsafe(32)
        self._expiry[session] = now + self.ttl
        return session

    def valid(self, session: str) -> bool:
        expiry = self._expiry.get(session)
        if expiry is None:
            return False
        if expiry <= self._now():
            del self._expiry[session]
            return False
        return True


def check_password(password: str) -> None:
    """Raise ``ValueError`` for a password too short to hold against guessing."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the local chat password needs at least {MIN_PASSWORD} characters")


def _forget(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
