"""The scale bench's short variant (``pytest -m scale`` also runs it; ``make test`` includes
it): the whole process set — a real PostgreSQL, the simulator process, 2 web processes, 2
workers, ingest and its standby, a recording Bot API — with 40 users played through the webhook
(a ✅ per desk), a price walk over every alert, and the four SIGKILLs of ``make scale``: a web
process with an order in flight, the ingest leader, a worker holding a desk's lock, the holder
of the private streams.

The bench's own checks must hold: every update answered once, the exchange, the journal and
what users were told agree on every order, every alert crossing told once, Telegram's limits
kept at the Bot API, every killed part taken over.
"""

from __future__ import annotations

import pytest

from bench.scale import parse, run_one
from bot.storage.pgserver import bindir

pytestmark = [
    pytest.mark.scale,
    pytest.mark.timeout(240),
    pytest.mark.skipif(bindir() is None, reason="PostgreSQL is not installed"),
]


async def test_a_short_run_loses_and_doubles_nothing() -> None:
    argv = ["--users", "40", "--seconds", "8", "--concurrency", "4", "--no-throughput"]
    counts, args = parse(argv)
    figures = await run_one(counts[0], args)
    assert figures.set_mode
    assert not figures.problems, figures.problems
    assert len(figures.takeovers) == 4, figures.takeovers  # each kill's outcome measured
    assert figures.updates >= 20
    # one web process is killed: its update in hand may have been answered before the kill
    assert figures.answered_twice_after_kill <= 1
    assert figures.answered_once + figures.answered_twice_after_kill == figures.updates
    assert figures.taps >= 1
    assert figures.orders_exchange == figures.orders_journal == figures.orders_told >= 1
    assert figures.alerts_due == 40
    assert figures.alerts_once == figures.alerts_due, figures.problems
    assert all(mb > 0 for mb in figures.rss.values()), figures.rss
