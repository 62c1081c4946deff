"""Group commit: one write and one ``fdatasync`` for every request waiting at that moment.

A request changes the engine, then calls :meth:`GroupCommit.wait`. A writer task takes every
waiter queued so far, has the store encode what changed (on the event loop: the engine is not
shared with threads) and hands the disk work — the journal append and its ``fdatasync``, or a
snapshot — to one writer thread. While that sync runs, the event loop keeps serving: the
requests that arrive meanwhile queue for the next round, so under load one sync covers a whole
batch and the disk's latency is never paid on the event loop. A waiter is released only after
the round that covers its change is durable; if the disk work fails, every waiter of that round
gets the error and no answer claims a change that is not on disk.

Writes reach the disk in the order they were prepared (one thread, FIFO), and each round's
``then`` (the server releases the private frames that announce the saved changes) runs in the
same order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("bot.sim")

Work = Callable[[], None]


@dataclass
class Commit:
    """One round: ``write`` runs on the writer thread, ``then`` on the loop once it is durable."""

    write: Work | None = None
    then: Work | None = None


@dataclass
class _Round:
    commit: Commit
    waiters: list[asyncio.Future[None]]
    future: concurrent.futures.Future[None] | None = None
    finished: bool = field(default=False)


class GroupCommit:
    """Batches the saves of concurrent requests; see the module docstring.

    ``prepare`` runs on the event loop: it takes what changed since its last call and returns
    the round's :class:`Commit` (a ``write`` of ``None``: nothing to put on disk).
    """

    def __init__(self, prepare: Callable[[], Commit]) -> None:
        self._prepare = prepare
        self._waiters: list[asyncio.Future[None]] = []
        self._due = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: _Round | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def wait(self) -> None:
        """Return once every change made so far is durable."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start()
        await waiter

    def schedule(self) -> None:
        """Save soon, without waiting (a background step's changes, held private frames).

        Without a running loop (changes made before the server starts) the next request,
        :meth:`flush` or :meth:`close` saves them.
        """
        self._due = True
        with contextlib.suppress(RuntimeError):
            self._start()

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._writer())

    async def _writer(self) -> None:
        try:
            while self._waiters or self._due:
                self._due = False
                batch = self._begin()
                if batch.future is not None:
                    with contextlib.suppress(Exception):  # read by _finish
                        await asyncio.shield(asyncio.wrap_future(batch.future))
                self._finish(batch)
        finally:
            self._task = None

    def _begin(self) -> _Round:
        """Take the waiters, prepare the round and hand its disk work to the writer thread."""
        batch = _Round(Commit(), self._waiters)
        self._waiters = []
        try:
            batch.commit = self._prepare()
            if batch.commit.write is not None:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(1, "sim-store")
                batch.future = self._pool.submit(batch.commit.write)
                self._inflight = batch
        except Exception as exc:  # nothing was written: every waiter hears why
            batch.commit = Commit()
            batch.future = concurrent.futures.Future()
            batch.future.set_exception(exc)
        return batch

    def _finish(self, batch: _Round) -> None:
        """Release a round's waiters once its write is done (at most once per round)."""
        if batch.finished:
            return
        batch.finished = True
        if self._inflight is batch:
            self._inflight = None
        error = batch.future.exception() if batch.future is not None else None
        try:
            if error is None and batch.commit.then is not None:
                batch.commit.then()
            elif error is not None:
                log.error("simulator state not saved: %s", error)
        except Exception:
            log.exception("simulator: releasing saved changes failed")
        finally:
            for w in batch.waiters:
                if w.done():
                    continue
                if error is None:
                    w.set_result(None)
                else:
                    w.set_exception(error)

    def flush(self) -> None:
        """Save now, on the caller's thread of control, and release every waiter.

        Blocks until the write in flight (if any) and this one are on disk; for shutdown, a
        control request and tests. Raises the disk's error.
        """
        inflight = self._inflight
        if inflight is not None and inflight.future is not None:
            concurrent.futures.wait([inflight.future])
            self._finish(inflight)
        self._due = False
        batch = self._begin()
        if batch.future is not None:
            concurrent.futures.wait([batch.future])
        self._finish(batch)
        if batch.future is not None and (error := batch.future.exception()) is not None:
            raise error

    async def close(self) -> None:
        """Let the writer finish its rounds, save what is left and stop the writer thread."""
        while self._task is not None:
            await asyncio.shield(self._task)
        self.flush()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
