"""Two simulator processes playing two venues: A hourly funding, B every 8 hours."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.simproc import SimProcess, start_sim


@pytest.fixture
async def venue_a() -> AsyncIterator[SimProcess]:
    p = await start_sim(11)
    yield p
    await p.stop()


@pytest.fixture
async def venue_b() -> AsyncIterator[SimProcess]:
    p = await start_sim(12, "--funding-interval", "28800")
    yield p
    await p.stop()
