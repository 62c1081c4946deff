"""The scale bench's short variant (``pytest -m scale`` also runs it; ``make test`` includes
it): a real PostgreSQL, the simulator process, the bot's webhook process(es), users played
through the webhook with a ✅ per desk, a price walk over every alert. (The kills run in
``make scale``: python-telegram-bot's own webhook server answers 200 before it handles an
update, so the single process loses the updates in flight when killed; the set's web process
answers after handling.)

The bench's own checks must hold: every update answered once, the exchange, the journal and
what users were told agree on every order, every alert crossing told once.
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
    argv = ["--users", "40", "--seconds", "8", "--concurrency", "4", "--single", "--no-faults"]
    counts, args = parse(argv)
    figures = await run_one(counts[0], args)
    assert figures.updates >= 20
    assert figures.answered_once == figures.updates, figures.problems
    assert figures.taps >= 1
    assert figures.orders_exchange == figures.orders_journal == figures.orders_told >= 1
    assert figures.alerts_due == 40
    assert figures.alerts_once == figures.alerts_due, figures.problems
    assert figures.rss["bot"] > 0
