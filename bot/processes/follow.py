"""The ingest leader's alert index follows what other processes change.

A web process that adds, removes, mutes or re-arms an alert sends one ``NOTIFY alerts_changed``
with the alert ids (:func:`bot.storage.alerts.notify_changed`, at commit). The leader LISTENs on
a dedicated asyncpg connection and re-reads just those alerts; every ``full_every`` seconds, and
after the listening connection broke (notifications sent meanwhile are lost), it re-reads them
all. Every change to the index is made under the evaluator's lock, so a reload never interleaves
with a tick's evaluation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from bot.alerts.service import AlertService
from bot.storage.alerts import CHANNEL

log = logging.getLogger("bot.ingest.follow")

#: The safety net: every alert re-read this often (seconds), NOTIFY or not.
FULL_EVERY = 30.0


def parse_ids(payload: str) -> list[int] | None:
    """A notification's alert ids; None (re-read everything) when it is not a list of ids."""
    try:
        return [int(p) for p in payload.split(",") if p]
    except ValueError:
        return None


class AlertFollower:
    """Keeps ``alerts`` in step with the ``alerts`` table while this process evaluates them."""

    def __init__(
        self,
        dsn: str,
        alerts: AlertService,
        lock: asyncio.Lock,
        *,
        full_every: float = FULL_EVERY,
    ) -> None:
        self.dsn = dsn
        self.alerts = alerts
        self.lock = lock
        self.full_every = full_every
        self._pending: set[int] = set()
        self._everything = False
        self._heard = asyncio.Event()
        self._broken = asyncio.Event()
        self._conn: Any = None
        #: Reloads done: (incremental, full), for the logs and the tests.
        self.partial = 0
        self.full = 0

    async def start(self) -> None:
        """Listen, then load every alert: a change made between the two is not missed."""
        await self._listen()
        await self.reload_all()

    async def run(self) -> None:
        """Apply what was heard; re-read everything every ``full_every`` s; reconnect (with
        backoff) when the listening connection breaks. The owner cancels it."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.full_every
        backoff = 0.5
        try:
            while True:
                if self._conn is None or self._broken.is_set():
                    await self._drop()
                    try:
                        await self._listen()
                    except (OSError, asyncpg.PostgresError) as exc:
                        log.warning("cannot listen for alert changes: %s", exc)
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 10.0)
                        continue
                    backoff = 0.5
                    self._everything = True  # what was sent while nobody listened
                    self._heard.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._heard.wait(), max(0.0, due - loop.time()))
                if loop.time() >= due:
                    self._everything = True
                    due = loop.time() + self.full_every
                await self._apply()
        finally:
            await self._drop()

    async def reload_all(self) -> int:
        async with self.lock:
            n = await self.alerts.reload()
        self.full += 1
        return n

    async def _apply(self) -> None:
        self._heard.clear()
        ids, self._pending = sorted(self._pending), set()
        try:
            if self._everything:
                self._everything = False
                await self.reload_all()
            elif ids:
                async with self.lock:
                    await self.alerts.reload(ids)
                self.partial += 1
        except Exception as exc:  # the database is back soon: try it all again then
            log.warning("could not reload alerts: %s", exc)
            self._everything = True
            await asyncio.sleep(0.5)
            self._heard.set()

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        self._broken.clear()
        conn.add_termination_listener(self._terminated)
        await conn.add_listener(CHANNEL, self._notified)
        self._conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        ids = parse_ids(payload)
        if ids is None:
            self._everything = True
        else:
            self._pending.update(ids)
        self._heard.set()

    def _terminated(self, conn: object) -> None:
        if conn is not self._conn:
            return  # one this follower closed itself
        log.warning("the connection listening for alert changes broke; reconnecting")
        self._broken.set()
        self._heard.set()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
