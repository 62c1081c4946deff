"""``python -m bot worker``: one of N worker processes of the set.

Start-up, in order: the shared services on PostgreSQL (:func:`bot.processes.compose.open_shared`)
→ this process's row in ``processes`` → procrastinate's schema (once, whoever comes first) →
the tasks (:mod:`bot.processes.tasks`) → the outbox's transport → the owned long-lived tasks:

* the procrastinate worker (periodic tasks deferred once per period across workers, one
  strategy cycle per desk at a time, stalled jobs of a dead worker run again);
* the outbox's sender (:class:`~bot.services.notices.senders.Sender`: what any process queued
  in the table goes to Telegram within the bot-wide limits);
* the stream leases: each desk's private account stream runs in exactly one process; gaining a
  desk builds its services and starts its order stream (fill notices, stale keyboards), losing
  it stops that stream;
* housekeeping: idle desks closed (never one whose stream this process holds), refused keys told
  once, retired clients closed.

SIGTERM/SIGINT: no new job is taken, running ones get :data:`GRACE` seconds, the leases are
given back and everything closes in reverse. SIGKILL: the jobs are retried by another worker
once the heartbeat is stale, the leases run out, the advisory locks drop with the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock, SystemClock
from bot.container import Services
from bot.desks.factory import DeskFactory
from bot.processes import tasks
from bot.processes.compose import open_shared
from bot.processes.coord import ProcessRecord
from bot.processes.engine import (
    HEARTBEAT_SECONDS,
    STALLED_AFTER,
    conninfo,
    ensure_schema,
    make_app,
)
from bot.processes.leases import StreamLeases
from bot.services.notices.limits import Limits
from bot.services.notices.senders import Sender
from bot.settings import Settings
from jobs import desks as desk_jobs
from jobs import watchers
from jobs.outbox import TelegramMarkupCodec, bot_transport
from jobs.strategy import proposal_hook

log = logging.getLogger("bot.processes.worker")

#: Jobs one worker runs at once (desks' cycles wait on the exchange, not on this CPU).
CONCURRENCY = 8
#: How long running jobs may finish after SIGTERM before they are cancelled (and retried).
GRACE = 20.0
#: How long the sender may finish the messages on their way at a stop.
SENDER_GRACE = 5.0
#: Housekeeping period (refused keys, retired clients); idle desks every EVICT_SECONDS.
HOUSEKEEPING_SECONDS = 5.0


@dataclass
class DeskStreams:
    """The stream leases' hooks: a gained desk's order stream starts here, a lost one's stops."""

    factory: DeskFactory
    #: The services whose stream callbacks are hooked (a regained desk is not hooked twice).
    hooked: dict[str, Services] = field(default_factory=dict)

    async def gained(self, desk_id: str) -> None:
        services = await self.factory.get(desk_id)
        if self.hooked.get(desk_id) is services:
            await services.account_api.subscribe_orders(_ignore)  # starts the stream again
        else:
            await watchers.start_desk_streams(services)
            self.hooked[desk_id] = services
        log.info("desk %s: this process holds its private stream", desk_id)

    async def lost(self, desk_id: str) -> None:
        services = self.factory.peek(desk_id)
        if services is not None and self.hooked.get(desk_id) is services:
            await services.account_api.stop_ws_price_stream()
        log.info("desk %s: private stream given up", desk_id)


async def _ignore(_event: object) -> None:
    return None


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run ``run`` for good: restarted with backoff and jitter when it fails."""
    backoff = 1.0
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await run()
            return
        except Exception:
            log.exception("%s failed; restarting", name)
        if asyncio.get_running_loop().time() - started > 60:
            backoff = 1.0  # it ran well for a while: start over
        await asyncio.sleep(backoff * (0.5 + random.random()))
        backoff = min(backoff * 2, 30.0)


async def housekeeping(factory: DeskFactory, held: set[str]) -> None:
    """This process's own desks: refused keys told once, retired clients closed, idle desks
    closed (not those whose stream it holds, nor those with anything open)."""

    async def busy(services: Services) -> bool:
        return services.desk.id in held or await desk_jobs.busy(services)

    idle_ms = factory.shared.settings.desk_idle_minutes * 60_000
    loop = asyncio.get_running_loop()
    last_evict = loop.time()
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        await desk_jobs.tell_refused(factory)
        await factory.reap()
        if loop.time() - last_evict >= desk_jobs.EVICT_SECONDS:
            last_evict = loop.time()
            await factory.evict_idle(idle_ms, busy)


class WorkerStopped(RuntimeError):
    """A long-lived part of the worker ended without being asked to (exit code 1: a process
    supervisor starts it again)."""


class WorkerProcess:
    """One worker process: :meth:`serve` builds it, runs it until ``stop`` is set, and closes
    it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.stack = contextlib.AsyncExitStack()

    async def serve(self, stop: asyncio.Event) -> None:
        async with self.stack:
            s = self.settings
            factory = await open_shared(s, self.clock, self.stack, role="worker")
            shared = factory.shared
            record = ProcessRecord(shared.db, "worker", self.clock)
            await record.start()
            self.stack.push_async_callback(record.stop)
            dsn = conninfo(s.database_url)
            await ensure_schema(dsn)
            app = make_app(dsn, pool=CONCURRENCY + 4)
            await self.stack.enter_async_context(app.open_async())
            leases = StreamLeases(shared.db, record.id, self.clock)
            # The order path's own locks (one instance: a cycle holding its desk places orders
            # that take it again, re-entrantly).
            work = tasks.Work(factory, shared.locks, leases.held)
            tasks.register(app, work)
            transport = await self.stack.enter_async_context(bot_transport(s))
            shared.outbox.start(transport)
            sender = Sender(
                shared.db,
                self.clock,
                transport,
                shared.alert_store.settings,
                TelegramMarkupCodec(),
                {"proposal": proposal_hook(factory)},
                limits=Limits(overall=s.telegram_messages_per_second),
            )
            streams = DeskStreams(factory)
            self.stack.push_async_callback(leases.release_all, streams.lost)
            jobs = asyncio.create_task(
                app.run_worker_async(
                    name=record.id,
                    concurrency=CONCURRENCY,
                    install_signal_handlers=False,
                    update_heartbeat_interval=HEARTBEAT_SECONDS,
                    stalled_worker_timeout=STALLED_AFTER,
                    shutdown_graceful_timeout=GRACE,
                    fetch_job_polling_interval=1.0,
                ),
                name="procrastinate",
            )
            others = {
                asyncio.create_task(
                    supervise(
                        "stream leases",
                        lambda: leases.run(_want(work), streams.gained, streams.lost),
                    ),
                    name="stream-leases",
                ),
                asyncio.create_task(
                    supervise("housekeeping", lambda: housekeeping(factory, leases.held)),
                    name="housekeeping",
                ),
            }
            sending = asyncio.create_task(supervise("outbox sender", sender.run), name="sender")
            log.info("worker %s ready", record.id)
            print(f"worker ready {record.id}", flush=True)
            stopping = asyncio.create_task(stop.wait(), name="stop")
            ended: set[asyncio.Task[Any]] = set()
            try:
                done, _ = await asyncio.wait(
                    {stopping, jobs, sending, *others}, return_when=asyncio.FIRST_COMPLETED
                )
                ended = done - {stopping}
            finally:
                stopping.cancel()
                # Jobs first (running ones finish, up to GRACE), then what they queued is
                # written, then the sender finishes the messages on their way.
                await _stop_all({jobs})
                await _stop_all(others)
                await shared.outbox.stop()
                sender.stop()
                await asyncio.wait({sending}, timeout=SENDER_GRACE)
                await _stop_all({sending})
            if ended:
                names = ", ".join(sorted(t.get_name() for t in ended))
                raise WorkerStopped(f"{names} ended on its own; the worker stopped")


def _want(work: tasks.Work) -> Callable[[], Awaitable[set[str]]]:
    async def want() -> set[str]:
        return set(await work.desks_watched())

    return want


async def _stop_all(owned: set[asyncio.Task[Any]]) -> None:
    """Cancel the owned tasks; procrastinate's worker, cancelled, stops taking jobs and waits
    up to :data:`GRACE` for those running."""
    for task in owned:
        task.cancel()
    for task in owned:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:
                log.exception("%s failed while stopping", task.get_name())


async def run_worker(settings: Settings, *, clock: Clock | None = None) -> int:
    """Run until SIGTERM or SIGINT; the CLI (:mod:`bot.processes.cli`) checks the settings."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # procrastinate says two INFO lines per job: thousands a minute with many desks.
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await WorkerProcess(settings, clock or SystemClock()).serve(stop)
    except Exception:
        log.exception("the worker failed")
        print("worker failed; see the log", file=sys.stderr)
        return 1
    return 0
