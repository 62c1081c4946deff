"""The ingest leader's alert index follows what other processes change.

A web process that adds, removes, mutes or re-arms an alert sends one ``NOTIFY alerts_changed``
with the alert ids (:func:`bot.storage.alerts.notify_changed`, at commit). The leader LISTENs on
a dedicated asyncpg connection and re-reads just those alerts. Every ``full_every`` seconds, and
after the listening connection broke (notifications sent meanwhile are lost), it compares a
fingerprint of what others change (ids, armed, fire counts, mutes) in the table with its own —
one aggregate query — and re-reads everything only when they differ: with 50,000 alerts a full
re-read holds the evaluation for seconds, the comparison for a few milliseconds. Every change to
the index is made under the evaluator's lock, so a reload never interleaves with a tick's
evaluation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable
from typing import Any

import asyncpg
from sqlalchemy import text

from bot.alerts.service import AlertService
from bot.storage.alerts import CHANNEL, Alert

log = logging.getLogger("bot.ingest.follow")

#: The safety net: every alert re-read this often (seconds), NOTIFY or not.
FULL_EVERY = 30.0


#: What connecting to a database that is away raises.
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

#: The table's side of :func:`fingerprint`.
_FINGERPRINT = text(
    "SELECT md5(coalesce(string_agg(id || ':' || armed::int || ':' || fired_count || ':'"
    " || coalesce(muted_until_ms, 0), ',' ORDER BY id), '')) FROM alerts"
)


def fingerprint(alerts: Iterable[Alert]) -> str:
    """What other processes may change of these alerts, as one hash (see ``_FINGERPRINT``)."""
    line = ",".join(
        f"{a.id}:{int(a.armed)}:{a.fired_count}:{a.muted_until_ms or 0}"
        for a in sorted(alerts, key=lambda a: a.id)
    )
    return hashlib.md5(line.encode(), usedforsecurity=False).hexdigest()


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
        #: Reloads done (of some alerts, of all) and fingerprint comparisons, for the tests.
        self.partial = 0
        self.full = 0
        self.checks = 0

    async def start(self) -> None:
        """Listen, then load every alert: a change made between the two is not missed."""
        await self._listen()
        await self.reload_all()

    async def run(self) -> None:
        """Apply what was heard; compare the whole table every ``full_every`` s (:meth:`resync`);
        listen again (with backoff) when the listening connection breaks. The owner cancels it."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.full_every
        backoff = 0.5
        try:
            while True:
                if self._conn is None or self._broken.is_set():
                    await self._drop()
                    try:
                        await self._listen()
                    except _UNREACHABLE as exc:
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

    async def resync(self) -> bool:
        """Re-read every alert if the table differs from the index; whether it did."""
        async with self.lock:
            async with self.alerts.store.db.session() as s:
                theirs = (await s.execute(_FINGERPRINT)).scalar_one()
            self.checks += 1
            if theirs == fingerprint(self.alerts.alerts.values()):
                return False
            log.info("alerts changed without a notice; reading them all again")
            await self.alerts.reload()
        self.full += 1
        return True

    async def _apply(self) -> None:
        self._heard.clear()
        ids, self._pending = sorted(self._pending), set()
        try:
            if self._everything:
                self._everything = False
                await self.resync()
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
