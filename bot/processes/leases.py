"""Each desk's private account stream (fills, orders, positions) held by exactly one process at a
time, through an expiring lease per desk in ``stream_leases``.

A holder renews its leases every ``renew`` seconds to ``now + ttl``; a lease nobody renewed for
``ttl`` is free, so a SIGKILLed holder's desks are taken over within ``ttl + renew`` (6 + 2 s by
default). The holders share the desks fairly. The holders are everyone with a live lease plus
the live processes of the holder's role in ``processes`` (holder ids are :class:`ProcessRecord`
ids, so a newcomer is seen before it holds anything). Each takes up to ``ceil(desks / holders)``
and never more than ``cap``; when every desk is held and one holds fewer than
``floor(desks / holders)``, those above that shed down to it — unless that one, holding some,
stayed below for a round while desks were free (full at its ``cap``). A desk left free for a
whole round is taken by anyone with room, so no desk stays unheld because a share was miscounted.

Never two at once: ``gained`` runs after the lease is ours in the database and ``lost`` before
it is given up; a holder that could not renew in time (a stalled loop, a database away) drops
its streams itself once its leases may have run out, before anyone else may take them. The
processes' clocks must agree to well within ``ttl`` (NTP does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy import Insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.clock import Clock, now_ms
from bot.storage.coordination import ProcessRow, StreamLeaseRow
from bot.storage.db import Database

log = logging.getLogger("bot.processes.leases")

Want = Callable[[], Awaitable[set[str]]]
Hook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _View:
    """One round's look at the table: who holds how many, which wanted desks are free."""

    counts: dict[str, int]
    free: set[str]
    missing: set[str]


class StreamLeases:
    """This process's share of the desks' private streams; :meth:`run` is the loop."""

    def __init__(
        self,
        db: Database,
        holder: str,
        clock: Clock,
        *,
        ttl: float = 6.0,
        renew: float = 2.0,
        cap: int = 1000,
        role: str | None = None,
    ) -> None:
        """``holder``: this process's id (a :class:`~bot.processes.coord.ProcessRecord` id);
        ``role``: whose live processes count as holders (default: the id's first part)."""
        if renew >= ttl:
            raise ValueError("a lease must be renewed before it runs out (renew < ttl)")
        self.db = db
        self.holder = holder
        self.clock = clock
        self.ttl_ms = int(ttl * 1000)
        self.renew = renew
        self.cap = cap
        self.role = role if role is not None else holder.split("-", 1)[0]
        #: The desks whose stream this process runs now (between ``gained`` and ``lost``).
        self.held: set[str] = set()
        self._renewed = 0.0  # loop time just before the last renewal that went through
        self._free_before: set[str] = set()  # free when my last round ended
        self._counts: dict[str, int] = {}  # each holder's count at my last round
        self._strikes: dict[str, int] = {}  # rounds a holder stayed below its share
        self._rounds = 0

    async def run(self, want: Want, gained: Hook, lost: Hook) -> None:
        """Every ``renew`` seconds: renew, release what is no longer wanted or above the share,
        take free desks up to the share. ``want()``: every desk whose stream should run;
        ``gained(desk)`` starts its stream, ``lost(desk)`` stops it (both quickly: start or stop a
        task; a round waits for them). Runs until cancelled, then stops every stream and frees
        the leases for the others at once."""
        try:
            while True:
                try:
                    await self.step(want, gained, lost)
                except Exception:
                    log.exception("stream leases of %s: round failed", self.holder)
                await asyncio.sleep(self.renew)
        finally:
            await self.release_all(lost)

    async def step(self, want: Want, gained: Hook, lost: Hook) -> None:
        """One round (see :meth:`run`)."""
        loop = asyncio.get_running_loop()
        if self.held and loop.time() - self._renewed >= self._safe_s():
            # stalled past the leases' safe time: others may run these streams already
            log.warning("stream leases of %s: not renewed in time; dropping", self.holder)
            await self._drop(set(self.held), lost, release=True)
        started = loop.time()
        now = now_ms(self.clock)
        try:
            kept = await self._renew(now)
        except Exception:
            if self.held and started - self._renewed + self.renew >= self._safe_s():
                # the next round would come too late: stop the streams while the leases hold
                log.warning("stream leases of %s: cannot renew; dropping", self.holder)
                await self._drop(set(self.held), lost, release=False)
            raise
        self._renewed = started
        await self._drop(self.held - kept, lost, release=False)  # taken over meanwhile
        wanted = await want()
        await self._drop(self.held - wanted, lost, release=True)
        view = await self._look(wanted, now)
        if view.missing:
            await self._insert(view.missing)
            view.free.update(view.missing)
        holders = max(1, len(view.counts))
        share, low = math.ceil(len(wanted) / holders), len(wanted) // holders
        self._judge(view.counts, low)
        below = any(
            n < low and h not in self._strikes for h, n in view.counts.items() if h != self.holder
        )
        shed: set[str] = set()
        if len(self.held) > low and below and not view.free:
            shed = set(sorted(self.held)[: len(self.held) - low])
            await self._drop(shed, lost, release=True)
        room = max(0, min(self.cap, share) - len(self.held))
        spare = max(0, self.cap - len(self.held) - room)
        settled = view.free & self._free_before
        take = sorted(view.free)[:room]
        take += sorted(settled - set(take))[:spare]
        claimed = await self._claim(take, now_ms(self.clock)) if take else []
        for desk in claimed:
            await self._gain(desk, gained)
        self._free_before = (view.free - set(claimed)) | shed

    def _judge(self, counts: dict[str, int], low: int) -> None:
        """Mark the holders that stay below their share while desks are free (full: a lower
        ``cap``) so no one sheds to them again and again; one holding nothing is never marked
        (it may have just started). Marks are forgotten every 30 rounds, to look again."""
        self._rounds += 1
        if self._rounds % 30 == 0:
            self._strikes.clear()
        for h, n in counts.items():
            before = self._counts.get(h)
            if before is not None and n > before:
                self._strikes.pop(h, None)
            elif before is not None and self._free_before and 0 < n < low:
                self._strikes[h] = self._strikes.get(h, 0) + 1
        self._counts = dict(counts)

    # ------------------------------------------------------------------ the table

    def _safe_s(self) -> float:
        """How long after a renewal the leases surely still hold (half a round of margin)."""
        return self.ttl_ms / 1000 - self.renew / 2

    async def _renew(self, now: int) -> set[str]:
        if not self.held:
            return set()
        async with self.db.session() as s, s.begin():
            rows = await s.execute(
                update(StreamLeaseRow)
                .where(StreamLeaseRow.holder == self.holder)
                .where(StreamLeaseRow.desk_id.in_(sorted(self.held)))
                .values(expires_ms=now + self.ttl_ms)
                .returning(StreamLeaseRow.desk_id)
            )
            return set(rows.scalars())

    async def _look(self, wanted: set[str], now: int) -> _View:
        counts: dict[str, int] = {self.holder: len(self.held)}
        present: set[str] = set()
        free: set[str] = set()
        async with self.db.session() as s:
            rows = await s.execute(
                select(StreamLeaseRow.desk_id, StreamLeaseRow.holder, StreamLeaseRow.expires_ms)
            )
            for desk, holder, expires in rows:
                present.add(desk)
                if holder is not None and expires >= now:
                    if holder != self.holder:
                        counts[holder] = counts.get(holder, 0) + 1
                elif desk in wanted:
                    free.add(desk)
            peers = (
                await s.execute(
                    select(ProcessRow.id)
                    .where(ProcessRow.role == self.role)
                    .where(ProcessRow.beat_ms >= now - self.ttl_ms)
                )
            ).scalars()
            live_ids = set(peers)
        if self.holder in live_ids:  # holders are process ids: count the ones holding nothing
            for peer in live_ids:
                counts.setdefault(peer, 0)
        return _View(counts, free, wanted - present)

    async def _insert(self, desks: Collection[str]) -> None:
        rows = [
            {"desk_id": d, "holder": None, "expires_ms": 0, "taken_ms": 0, "generation": 0}
            for d in sorted(desks)
        ]
        insert: Insert
        if self.db.engine.dialect.name == "postgresql":
            insert = postgresql.insert(StreamLeaseRow).values(rows).on_conflict_do_nothing()
        else:
            insert = sqlite.insert(StreamLeaseRow).values(rows).on_conflict_do_nothing()
        async with self.db.session() as s, s.begin():
            await s.execute(insert)

    async def _claim(self, desks: list[str], now: int) -> list[str]:
        """Take the desks of ``desks`` that are still free; rows another holder is taking at
        this moment are skipped (``FOR UPDATE SKIP LOCKED``), never waited for."""
        free = or_(StreamLeaseRow.holder.is_(None), StreamLeaseRow.expires_ms < now)
        candidates = (
            select(StreamLeaseRow.desk_id)
            .where(StreamLeaseRow.desk_id.in_(desks))
            .where(free)
            .with_for_update(skip_locked=True)
        )
        async with self.db.session() as s, s.begin():
            rows = await s.execute(
                update(StreamLeaseRow)
                .where(StreamLeaseRow.desk_id.in_(candidates.scalar_subquery()))
                .where(free)
                .values(
                    holder=self.holder,
                    expires_ms=now + self.ttl_ms,
                    taken_ms=now,
                    generation=StreamLeaseRow.generation + 1,
                )
                .returning(StreamLeaseRow.desk_id)
            )
            return sorted(rows.scalars())

    async def _release(self, desks: Collection[str]) -> None:
        if not desks:
            return
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(StreamLeaseRow)
                .where(StreamLeaseRow.holder == self.holder)
                .where(StreamLeaseRow.desk_id.in_(sorted(desks)))
                .values(holder=None, expires_ms=0)
            )

    # ------------------------------------------------------------------ the streams

    async def _gain(self, desk: str, gained: Hook) -> None:
        try:
            await gained(desk)
        except Exception:
            log.exception("stream leases of %s: starting %s failed; released", self.holder, desk)
            await self._release([desk])
            return
        self.held.add(desk)

    async def _drop(self, desks: set[str], lost: Hook, *, release: bool) -> None:
        """Stop the streams of ``desks`` (``lost`` first), then free their leases."""
        for desk in sorted(desks):
            self.held.discard(desk)
            try:
                await lost(desk)
            except Exception:
                log.exception("stream leases of %s: stopping %s failed", self.holder, desk)
        if release:
            await self._release(desks)

    async def release_all(self, lost: Hook) -> None:
        """Stop every stream and free every lease (shutdown: the others take over at once)."""
        desks = set(self.held)
        with contextlib.suppress(Exception):
            await self._drop(desks, lost, release=False)
        try:
            await self._release(desks)
        except Exception as exc:  # they expire within ttl instead
            log.warning("stream leases of %s: release failed: %s", self.holder, exc)
