"""The worker processes' work as procrastinate tasks: the job functions the single process runs
on its JobQueue (:mod:`jobs`), deferred once per period across every worker.

* ``strategy_tick`` (every ``STRATEGY_INTERVAL_SECONDS``) defers one ``strategy_cycle`` per desk
  whose strategy is on, with ``lock`` and ``queueing_lock`` ``desk:<id>``: one desk's cycle never
  runs twice at once, and never waits twice in the queue;
* ``strategy_cycle(desk_id)`` settles what a dead process left unfinished on that desk first
  (under the desk's lock: nobody else is mid-order there), then runs the cycle;
* ``recover`` (5 s): every desk with unfinished journal rows whose lock is free is settled and
  its users told (:func:`jobs.recovery.announce`); a desk whose lock is held is busy, not dead;
* ``retry_stalled`` (5 s): jobs of a worker whose heartbeat stopped (SIGKILL) run again;
* ``watch_accounts`` (30 s) → ``watch_shard(desk_ids)`` jobs of :data:`WATCH_SHARD` desks;
* ``expiry_sweep`` (5 s), ``release_held`` (60 s), ``funding_digest`` (08:00 UTC),
  ``forget_buttons`` (04:00 UTC), ``prune_updates`` (04:10 UTC), ``prune_outbox`` (04:20 UTC),
  ``remove_old_jobs`` (hourly).

Every periodic task also carries a ``queueing_lock`` of its own name, so a slow run never
piles up waiting copies.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from procrastinate import App, RetryStrategy, builtin_tasks, exceptions, job_context
from procrastinate.jobs import Status
from procrastinate.types import JSONValue

from bot.clock import now_ms
from bot.container import Services
from bot.desks.factory import BACKPACK, DeskFactory
from bot.desks.model import OPERATOR
from bot.processes.engine import STALLED_AFTER, every
from bot.services.notices.table import TableOutbox
from bot.storage.db import Database
from bot.storage.desk_locks import DeskBusy
from bot.storage.desks_scope import (
    desks_to_recover,
    desks_with_due_confirmations,
    desks_with_own_keys,
    desks_with_strategy_on,
)
from jobs import recovery, updates, watchers
from jobs import strategy as strategy_jobs
from jobs import trading as trading_jobs

log = logging.getLogger("bot.processes.tasks")

#: The per-desk cycle's task name (deferred by name from :func:`defer_strategy_cycles`).
CYCLE = "strategy_cycle"
#: Desks per account-watch job: a round over thousands of desks spreads over the workers.
WATCH_SHARD = 25
#: How long a cycle waits for its desk's lock (a tap's order on the desk, a recovery).
SETTLE_WAIT = 30.0


class Locks(Protocol):
    """:class:`bot.storage.desk_locks.DeskLocks` as the tasks use it."""

    def hold(self, desk_id: str, *, timeout: float = 30.0) -> AbstractAsyncContextManager[None]:
        """Wait for ``desk_id``'s lock (raises ``DeskBusy`` after ``timeout``)."""
        ...

    def try_hold(self, desk_id: str) -> AbstractAsyncContextManager[bool]:
        """The lock if it is free now: yields whether it was taken."""
        ...


@dataclass
class Work:
    """What the tasks run on: this process's desks, the desks' locks, and the desks whose
    private stream this process holds (never evicted while held)."""

    factory: DeskFactory
    locks: Locks
    streams: set[str] = field(default_factory=set)

    async def desks_watched(self) -> list[str]:
        """Desks with an account of their own on the exchange (the operator's when it has
        keys), sorted: those the account watch reads and whose private streams are leased."""
        shared = self.factory.shared
        desks = await desks_with_own_keys(shared.db, BACKPACK)
        if shared.operator_api.has_keys:
            desks.add(OPERATOR)
        return sorted(d for d in desks if shared.desks.get(d) is not None)


@dataclass(frozen=True)
class Tasks:
    """The registered tasks, for deferring by hand (tests, the CLI)."""

    strategy_tick: Any
    strategy_cycle: Any
    recover: Any
    retry_stalled: Any
    watch_accounts: Any
    watch_shard: Any


async def settle(services: Services) -> bool:
    """Run the desk's recovery and tell its users (call it holding the desk's lock: every
    unfinished row is then a dead process's). Returns whether everything was settled."""
    recovered = await services.recovery.run()
    recovery.announce(services, recovered)
    if not recovered.empty:
        log.info("desk %s: recovered what a stopped process left unfinished", services.desk.id)
    return recovered.complete


async def defer_strategy_cycles(app: App, db: Database) -> int:
    """Queue one ``strategy_cycle`` per desk whose strategy is on (the tick's work; any process
    with an ``App`` on the database may call it, e.g. when a funding alert fires); a desk whose
    cycle already waits is skipped. Returns how many were queued."""
    queued = 0
    for desk_id in sorted(await desks_with_strategy_on(db)):
        key = f"desk:{desk_id}"
        deferrer = app.configure_task(CYCLE, lock=key, queueing_lock=key)
        with contextlib.suppress(exceptions.AlreadyEnqueued):  # still waiting: enough
            await deferrer.defer_async(desk_id=desk_id)
            queued += 1
    return queued


def register(app: App, work: Work) -> Tasks:
    """Register every task on ``app``, bound to ``work``."""
    factory, locks = work.factory, work.locks
    shared = factory.shared
    settings = shared.settings

    def periodic(name: str, cron: str, fn: Callable[[], Awaitable[None]]) -> Any:
        async def run(timestamp: int) -> None:
            await fn()

        run.__name__ = name
        task = app.task(name=name, queueing_lock=name)(run)
        return app.periodic(cron=cron, periodic_id=name)(task)

    # -- the strategy ------------------------------------------------------------------------

    # Retried only when its desk stayed busy (a long tap's orders): a cycle that failed
    # otherwise is not run twice; the next tick decides anew.
    busy = RetryStrategy(max_attempts=3, wait=2, retry_exceptions={DeskBusy})

    @app.task(name=CYCLE, retry=busy)
    async def strategy_cycle(desk_id: str) -> None:
        if shared.desks.get(desk_id) is None:
            log.info("strategy cycle of desk %s skipped: the desk is gone", desk_id)
            return
        services = await factory.get(desk_id)
        # The desk's lock for the whole cycle (its orders take it again, re-entrantly): no
        # other process's order or recovery on this desk runs meanwhile.
        async with locks.hold(desk_id, timeout=SETTLE_WAIT):
            if desk_id in await desks_to_recover(shared.db):
                # A process died mid-order here: settle its rows before deciding anew, or the
                # cycle would act on a position it cannot see yet.
                await settle(services)
            await strategy_jobs.run_once(services)

    async def tick() -> None:
        await defer_strategy_cycles(app, shared.db)

    strategy_tick = periodic("strategy_tick", every(settings.strategy_interval_seconds), tick)

    # -- recovery and the engine's own housekeeping -------------------------------------------

    async def recover() -> None:
        for desk_id in sorted(await desks_to_recover(shared.db)):
            if shared.desks.get(desk_id) is None:
                continue
            try:
                async with locks.try_hold(desk_id) as free:
                    if free:  # held: a live process is mid-order there, not a dead one
                        await settle(await factory.get(desk_id))
            except Exception:  # one desk's exchange being down never holds another's back
                log.exception("recovery of desk %s failed; it is tried again", desk_id)

    async def retry_stalled() -> None:
        manager = app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            if job.id is None:
                continue
            log.warning("job %s of a stopped worker runs again", job.call_string)
            try:
                await manager.retry_job(job)
            except exceptions.UniqueViolation:
                # A newer copy already waits under the same queueing lock: it does the work
                # (a desk's cycle settles the dead one's orders first); this one is closed.
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            except exceptions.ConnectorException as exc:  # another worker retried it first
                log.info("job %s not retried here: %s", job.id, exc)

    # -- watchers, sweeps, daily chores -------------------------------------------------------

    @app.task(name="watch_shard")
    async def watch_shard(desk_ids: list[str]) -> None:
        for desk_id in desk_ids:
            if shared.desks.get(desk_id) is None:
                continue
            try:
                services = await factory.get(desk_id)
                watchers.deliver(services, await services.watchers.account_round())
            except Exception:  # one desk's failure never stops another's watch
                log.exception("account watch failed on desk %s", desk_id)

    async def watch_accounts() -> None:
        desks = await work.desks_watched()
        for i in range(0, len(desks), WATCH_SHARD):
            with contextlib.suppress(exceptions.AlreadyEnqueued):
                await watch_shard.configure(queueing_lock=f"watch:{i}").defer_async(
                    desk_ids=list[JSONValue](desks[i : i + WATCH_SHARD])
                )

    async def expiry_sweep() -> None:
        for desk_id in sorted(await desks_with_due_confirmations(shared.db, now_ms(shared.clock))):
            if shared.desks.get(desk_id) is not None:
                await trading_jobs.sweep(await factory.get(desk_id))

    async def release_held() -> None:
        await shared.outbox.release_held()

    async def funding_digest() -> None:
        operator = await factory.get(OPERATOR)
        await watchers.tell_public(shared, await factory.public_watchers(operator).digest())

    async def forget_buttons() -> None:
        await watchers.forget_buttons(shared)

    async def prune_updates() -> None:
        await updates.prune(shared)

    async def prune_outbox() -> None:
        if isinstance(shared.outbox, TableOutbox):  # sent rows and dedupe keys, after a week
            await shared.outbox.prune()

    @app.periodic(cron="7 * * * *", periodic_id="remove_old_jobs")
    @app.task(name="remove_old_jobs", queueing_lock="remove_old_jobs", pass_context=True)
    async def remove_old_jobs(context: job_context.JobContext, timestamp: int) -> None:
        """Finished jobs older than an hour go (a cycle a minute per desk adds up)."""
        await builtin_tasks.remove_old_jobs(context, max_hours=1, remove_failed=True)

    tasks = Tasks(
        strategy_tick=strategy_tick,
        strategy_cycle=strategy_cycle,
        recover=periodic("recover", every(5), recover),
        retry_stalled=periodic("retry_stalled", every(5), retry_stalled),
        watch_accounts=periodic("watch_accounts", every(30), watch_accounts),
        watch_shard=watch_shard,
    )
    periodic("expiry_sweep", every(trading_jobs.SWEEP_SECONDS), expiry_sweep)
    periodic("release_held", every(60), release_held)
    periodic("funding_digest", "0 8 * * *", funding_digest)
    periodic("forget_buttons", "0 4 * * *", forget_buttons)
    periodic("prune_updates", "10 4 * * *", prune_updates)
    periodic("prune_outbox", "20 4 * * *", prune_outbox)
    return tasks
