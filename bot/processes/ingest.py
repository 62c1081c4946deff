"""``python -m bot ingest``: the public market data and every user's alerts, in one process of
the set at a time.

Several ingest processes may run; they elect one leader with a PostgreSQL advisory lock
(:class:`bot.processes.coord.Leader`), the others wait as standbys and the first to get the lock
after the leader died takes over (the lock drops with the dead leader's connection; standbys try
every 0.5 s). While it leads, a process

* opens the public price and funding streams (the same callbacks as the single process's
  :func:`jobs.watchers.start_market_streams`),
* evaluates every user's alerts on them (spread alerts on both venues' rates, read every
  minute when a hedge venue is configured) — one evaluation at a time, each on the freshest
  price the stream has given (a tick that waited for the evaluator's lock while a re-check
  evaluated a newer price is evaluated at that newer price: an older one, evaluated after it,
  would re-arm alerts the newer one had just fired and the next tick would tell them again) —
  writing each fired alert's notice into the outbox table
  (:meth:`TableOutbox.put_many`, durable, ``dedupe_key = alert:<id>:<n>`` where ``n`` is the alert's
  fire count after that crossing) *before* the alert is stored as fired — a leader killed in
  between leaves the alert armed, the next leader fires the same crossing again and its notice
  dedupes; one whose price went back meanwhile is settled at start (:func:`settle_noticed`),
* keeps its alert index in step with the other processes' writes (:mod:`bot.processes.follow`),
* writes the latest prices to the ``prices`` table at most once a second per symbol
  (:mod:`bot.processes.prices`).

When the lock's connection breaks the process stops leading and exits non-zero, so its
supervisor starts it again as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Collection, Sequence
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import text

from bot.alerts.service import AlertService, Firing
from bot.clock import Clock, SystemClock, now_ms
from bot.desks.model import OPERATOR
from bot.exchange.client import BackpackAPI
from bot.faults import crash_point
from bot.processes import compose
from bot.processes.coord import Leader, ProcessRecord
from bot.processes.follow import FULL_EVERY, AlertFollower
from bot.processes.prices import PRICE_EVERY, PriceWriter
from bot.render import alerts as render
from bot.services.notices.outbox import Note
from bot.services.notices.table import TableOutbox
from bot.settings import Settings
from bot.storage.db import Database
from jobs.watchers import SPREAD_POLL_SECONDS, tell_public

log = logging.getLogger("bot.ingest")

#: How long the leader waits for the price stream before it goes on (the stream keeps retrying).
STREAM_WAIT = 10.0
#: Seconds between looks for a silent public stream (the single process's ``watch-stale``).
STALE_EVERY = 2.0
#: The crash point between an alert's notice written and the alert stored as fired (tests).
NOTICED = "ingest-alert-noticed"


#: The spread APR now of each of these Backpack perps (``ArbService.spreads``).
Spreads = Callable[[Collection[str]], Awaitable[dict[str, Decimal]]]


class DurableOutbox(Protocol):
    """What the leader needs of the outbox table: notes inserted before ``put_many`` returns,
    each ``dedupe_key`` once."""

    async def put_many(self, notes: Sequence[Note]) -> int: ...


def alert_key(alert_id: int, n: int) -> str:
    """The dedupe key of an alert's ``n``-th crossing's notice."""
    return f"alert:{alert_id}:{n}"


#: Armed alerts whose next crossing's notice is already in the outbox: a leader died between
#: writing it and storing the alert as fired.
_NOTICED_ARMED = text(
    "SELECT a.id FROM alerts a JOIN outbox_messages o"
    " ON o.dedupe_key = 'alert:' || a.id || ':' || (a.fired_count + 1)"
    " WHERE a.armed"
)


async def settle_noticed(db: Database, alerts: AlertService, clock: Clock) -> list[int]:
    """Store as fired the alerts whose notice a dead leader wrote but did not get to store as
    fired (their users were told; the crossing is done even if the price went back)."""
    async with db.session() as s:
        ids = [int(i) for i in (await s.execute(_NOTICED_ARMED)).scalars()]
    if ids:
        await alerts.store.fired_many(ids, now_ms(clock))
        log.info("alerts %s: notices written before a crash, now stored as fired", ids)
    return ids


class Ingest:
    """What the leader runs: streams → alerts → outbox, and prices → the ``prices`` table."""

    def __init__(
        self,
        db: Database,
        market_api: BackpackAPI,
        alerts: AlertService,
        outbox: DurableOutbox,
        clock: Clock,
        *,
        dsn: str,
        spreads: Spreads | None = None,
        full_every: float = FULL_EVERY,
        price_every: float = PRICE_EVERY,
        spread_every: float = SPREAD_POLL_SECONDS,
        stale: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.api = market_api
        self.alerts = alerts
        self.outbox = outbox
        self.clock = clock
        #: One evaluation or index change at a time (ticks, funding, reloads, re-checks).
        self.lock = asyncio.Lock()
        self.prices = PriceWriter(db, clock, every=price_every)
        self.follower = AlertFollower(dsn, alerts, self.lock, full_every=full_every)
        #: The cross-venue spreads now (with a hedge venue): polled for spread alerts.
        self.spreads = spreads
        self.spread_every = spread_every
        #: The silent-stream watch (its notice to every member), while this process streams.
        self.stale = stale
        self.tasks: list[asyncio.Task[None]] = []
        self.streaming = asyncio.Event()

    async def start(self) -> None:
        """Settle what a dead leader left, load the alerts, hook and open the streams."""
        await settle_noticed(self.db, self.alerts, self.clock)
        self.alerts.on_fire = None
        self.alerts.before_fired = self.write_notices
        await self.follower.start()
        log.info("%d alerts loaded", len(self.alerts.alerts))
        self.api.register_price_callback(self._on_price)
        self.api.register_funding_callback(self._on_funding)
        self.api.on_reconnect.append(self._recheck)
        self.tasks = [
            asyncio.create_task(self.prices.run(), name="ingest-prices"),
            asyncio.create_task(self.follower.run(), name="ingest-follow"),
        ]
        if self.spreads is not None:
            self.tasks.append(asyncio.create_task(self._poll_spreads(), name="ingest-spreads"))
        if self.stale is not None:
            watch = self._watch_stale(self.stale)
            self.tasks.append(asyncio.create_task(watch, name="ingest-stale"))
        try:
            await asyncio.wait_for(self.api.start_ws_price_stream(), STREAM_WAIT)
            self.streaming.set()
        except (TimeoutError, Exception) as exc:  # the stream supervisor keeps retrying
            log.warning("price stream not up yet (%s); it keeps retrying", type(exc).__name__)
        await self._recheck()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        with contextlib.suppress(Exception):
            await self.api.stop_ws_price_stream()
        with contextlib.suppress(Exception):
            await self.prices.flush()

    def failed(self) -> asyncio.Task[None] | None:
        """A task of the leader's that ended on its own (it never should)."""
        return next((t for t in self.tasks if t.done()), None)

    async def _on_price(self, symbol: str, price: Decimal) -> None:
        self.streaming.set()
        self.prices.on_price(symbol, price)
        async with self.lock:
            await self.alerts.on_price(symbol, self.api.prices.get(symbol, price))

    async def _on_funding(self, symbol: str, rate: Decimal) -> None:
        self.prices.on_funding(symbol, rate)
        async with self.lock:
            await self.alerts.on_funding(symbol, self.api.funding_rates.get(symbol, rate))

    async def _recheck(self) -> None:
        """After a (re)connect: every armed alert at the current values."""
        async with self.lock:
            await self.alerts.check_all()

    async def check_spreads(self) -> None:
        """Spread alerts: the hedge venue has no stream here, so both venues' rates are read."""
        symbols = self.alerts.spread_symbols()
        if self.spreads is None or not symbols:
            return
        found = await self.spreads(symbols)
        async with self.lock:
            for symbol, spread in found.items():
                await self.alerts.on_spread(symbol, spread)

    async def _poll_spreads(self) -> None:
        while True:
            try:
                await self.check_spreads()
            except Exception as exc:  # a venue that cannot be read now is read next time
                log.warning("spread alerts not checked: %s", exc)
            await asyncio.sleep(self.spread_every)

    async def _watch_stale(self, watch: Callable[[], Awaitable[None]]) -> None:
        """The single process's ``watch-stale`` job: the leader owns the public streams, so it
        is the one that can tell when they fall silent."""
        while True:
            await asyncio.sleep(STALE_EVERY)
            try:
                await self.look_stale(watch)
            except Exception:  # the next round looks again
                log.exception("the silent-stream watch failed")

    async def look_stale(self, watch: Callable[[], Awaitable[None]]) -> None:
        """One round of the silent-stream watch, under the evaluator's lock like every tick.

        While the stream is (or seems) silent the watch reads prices over REST and evaluates
        the alerts on them, and once it recovers it re-checks every alert. Outside the lock a
        REST price read before a stream tick could be evaluated after it: the older, lower
        price re-armed alerts that tick had just fired and the next tick told them again. Under
        the lock no tick is evaluated between the REST read and its evaluation, so the prices
        are evaluated in the order the exchange had them.
        """
        async with self.lock:
            await watch()

    async def write_notices(self, firings: list[Firing]) -> None:
        """A crossing's notices into the outbox table, durably, before the alerts are stored as
        fired (``AlertService.before_fired``); muted alerts fire silently."""
        notes: list[Note] = []
        for f in firings:
            a = f.alert
            if a.muted_until_ms is not None and a.muted_until_ms > f.at_ms:
                continue
            words, markup = render.fired(f)
            key = alert_key(a.id, a.fired_count)
            notes.append(Note(a.chat_id, a.user_id, words, markup, dedupe_key=key))
        if notes:
            await self.outbox.put_many(notes)
        crash_point(NOTICED)


def say(line: str) -> None:
    """One line on stdout for whoever supervises the process (and the tests)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run_ingest(settings: Settings, *, clock: Clock | None = None) -> int:
    """Run one ingest process until SIGTERM/SIGINT (0) or until it loses the lead (1).

    Prints ``ingest standby <id>`` while it waits, ``ingest leading <id>`` once it holds the
    lock and ``ingest streaming <id>`` once its price stream is up.
    """
    the_clock = clock or SystemClock()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            factory = await compose.open_shared(settings, the_clock, stack, role="ingest")
            shared = factory.shared
            outbox = shared.outbox
            if not isinstance(outbox, TableOutbox):
                raise RuntimeError("the ingest process needs the outbox table (PostgreSQL)")
            record = ProcessRecord(shared.db, "ingest", the_clock)
            await record.start()
            stack.push_async_callback(record.stop)
            dsn = compose.asyncpg_dsn(settings.database_url)
            leader = Leader(dsn, "ingest")
            stack.push_async_callback(leader.close)
            say(f"ingest standby {record.id}")
            if not await _first(leader.wait(), stop.wait()):
                return 0
            say(f"ingest leading {record.id}")
            arb = (await factory.get(OPERATOR)).arb if shared.hedges.first is not None else None
            public = factory.public_watchers(await factory.get(OPERATOR))

            async def stale() -> None:
                await tell_public(shared, await public.stale())

            ingest = Ingest(
                shared.db,
                shared.market_api,
                shared.alerts,
                outbox,
                the_clock,
                dsn=dsn,
                spreads=arb.spreads if arb is not None else None,
                stale=stale,
            )
            stack.push_async_callback(ingest.stop)
            await ingest.start()
            if ingest.streaming.is_set():
                say(f"ingest streaming {record.id}")
            return await _lead(ingest, leader.lost, stop, record.id)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _lead(ingest: Ingest, lost: asyncio.Event, stop: asyncio.Event, me: str) -> int:
    """Lead until told to stop (0), the lock is lost or a task failed (1)."""
    said = ingest.streaming.is_set()
    while True:
        waits: list[Callable[[], Awaitable[Any]]] = [lost.wait, stop.wait]
        if not said:
            waits.append(ingest.streaming.wait)
        await _any([w() for w in waits], within=1.0)
        if stop.is_set():
            return 0
        if lost.is_set():
            log.error("ingest lost the lead (its lock's connection broke); exiting")
            return 1
        if not said and ingest.streaming.is_set():
            said = True
            say(f"ingest streaming {me}")
        failed = ingest.failed()
        if failed is not None:
            log.error("ingest task %s ended: %r", failed.get_name(), failed.exception())
            return 1


async def _first(lead: Awaitable[None], stop: Awaitable[Any]) -> bool:
    """True when ``lead`` finished first, False when ``stop`` did."""
    lead_task = asyncio.ensure_future(lead)
    stop_task = asyncio.ensure_future(stop)
    await asyncio.wait({lead_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    stop_task.cancel()
    if lead_task.done():
        lead_task.result()
        return True
    lead_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lead_task
    return False


async def _any(waits: list[Awaitable[Any]], *, within: float) -> None:
    """Wait for the first of ``waits`` (or ``within`` seconds); the rest are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
