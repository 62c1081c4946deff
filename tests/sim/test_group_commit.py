"""Group commit: the requests waiting together share one fsync, and none is answered before it.

The unit tests count syncs through the store's injectable syncer (no timing) and hold a sync
open to show the event loop serving the next requests meanwhile; the process test sends
concurrent orders to a real ``python -m bot.sim --state`` and SIGKILLs it the moment the last
answer is in.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.sim.engine import Engine
from bot.sim.store import DATA_SYNC, Commit, GroupCommit, StateStore
from tests.conftest import control_headers
from tests.keys import new_keypair
from tests.sim.wire import Wire
from tests.simproc import SimProcess, start_sim

SOL = "SOL_USDC_PERP"
N = 16


def _order(side: str = "Bid") -> dict[str, str]:
    return {"symbol": SOL, "side": side, "orderType": "Market", "quantity": "1"}


class CountingSyncer:
    """The real ``fdatasync``, counted; records how many answers were out at each sync."""

    def __init__(self) -> None:
        self.calls = 0
        self.answered_at_sync: list[int] = []
        self.answered = 0
        self.fail = False
        #: When set, the next sync waits (on the writer thread) for ``release``.
        self.hold: threading.Event | None = None
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self, fd: int) -> None:
        if self.fail:
            raise OSError(5, "Input/output error")
        if self.hold is not None:
            self.hold = None
            self.inside.set()
            assert self.release.wait(10)
        self.calls += 1
        self.answered_at_sync.append(self.answered)
        DATA_SYNC(fd)


def _loaded(path: Path, syncer: CountingSyncer) -> tuple[Engine, StateStore]:
    engine = Engine(seed=1)
    store = StateStore(path, syncer=syncer)
    store.load(engine)
    syncer.calls, syncer.answered_at_sync = 0, []  # the fold at load is not under test
    return engine, store


def _commit(store: StateStore, engine: Engine) -> GroupCommit:
    return GroupCommit(lambda: Commit(store.prepare(engine)))


async def test_waiting_requests_share_one_fsync(tmp_path: Path) -> None:
    syncer = CountingSyncer()
    engine, store = _loaded(tmp_path / "s.json", syncer)
    commit = _commit(store, engine)
    ids: list[str] = []

    async def request(i: int) -> None:
        ids.append(engine.execute(f"acct{i}", _order())["id"])
        await commit.wait()
        syncer.answered += 1

    await asyncio.gather(*(request(i) for i in range(N)))
    assert syncer.calls == 1
    assert syncer.answered_at_sync == [0]  # the one sync came before every answer
    store.close()

    restored = Engine(seed=1)
    StateStore(tmp_path / "s.json").load(restored)
    accounts = restored.state()["accounts"]
    assert sorted(o["id"] for i in range(N) for o in accounts[f"acct{i}"]["orders"]) == sorted(ids)


async def test_requests_one_after_another_each_pay_their_fsync(tmp_path: Path) -> None:
    """The control: nothing waiting together, nothing shared — the count above is real."""
    syncer = CountingSyncer()
    engine, store = _loaded(tmp_path / "s.json", syncer)
    commit = _commit(store, engine)
    for i in range(4):
        engine.execute("k", _order("Bid" if i % 2 else "Ask"))
        await commit.wait()
        syncer.answered += 1
    assert syncer.calls == 4
    assert syncer.answered_at_sync == [0, 1, 2, 3]
    store.close()


async def test_requests_arriving_during_a_sync_share_the_next_one(tmp_path: Path) -> None:
    """The sync runs off the event loop: requests keep being served and queue for the next."""
    syncer = CountingSyncer()
    engine, store = _loaded(tmp_path / "s.json", syncer)
    commit = _commit(store, engine)
    syncer.hold = threading.Event()
    syncs_before_answer: dict[int, int] = {}

    async def request(i: int) -> None:
        engine.execute(f"acct{i}", _order())
        await commit.wait()
        syncs_before_answer[i] = syncer.calls

    first = asyncio.create_task(request(0))
    await asyncio.to_thread(syncer.inside.wait, 10)  # the first sync is running, held
    later = [asyncio.create_task(request(i)) for i in range(1, N)]
    await asyncio.sleep(0)  # one turn of the loop: each later request runs to its wait
    assert all(f"acct{i}" in engine.accounts for i in range(1, N))  # served meanwhile
    assert not syncs_before_answer and not first.done()  # nobody answered before the sync
    syncer.release.set()
    await asyncio.gather(first, *later)
    assert syncer.calls == 2
    assert syncs_before_answer[0] >= 1
    assert {syncs_before_answer[i] for i in range(1, N)} == {2}  # one more sync for all 15
    await commit.close()
    store.close()
    restored = Engine(seed=1)
    StateStore(tmp_path / "s.json").load(restored)
    assert all(restored.accounts[f"acct{i}"].positions for i in range(N))


async def test_a_failed_sync_fails_every_waiting_request(tmp_path: Path) -> None:
    syncer = CountingSyncer()
    engine, store = _loaded(tmp_path / "s.json", syncer)
    commit = _commit(store, engine)
    syncer.fail = True

    async def request(i: int) -> None:
        engine.execute(f"acct{i}", _order())
        await commit.wait()

    results = await asyncio.gather(*(request(i) for i in range(4)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results), results
    # The disk comes back: the next save is a whole snapshot (the failed record may be torn).
    syncer.fail = False
    generation = store.generation
    await request(4)
    assert store.generation == generation + 1
    await commit.close()
    store.close()
    restored = Engine(seed=1)
    StateStore(tmp_path / "s.json").load(restored)
    assert all(restored.accounts[f"acct{i}"].positions for i in range(5))


@pytest.fixture
async def procs() -> AsyncIterator[list[SimProcess]]:
    started: list[SimProcess] = []
    yield started
    for p in started:
        p.kill()
        await p.proc.wait()


async def test_kill_after_concurrent_answers_keeps_every_answered_order(
    tmp_path: Path, procs: list[SimProcess]
) -> None:
    state = tmp_path / "paper.json"
    first = await start_sim(1, "--state", str(state))
    procs.append(first)
    wires = [Wire(first.rest_url, new_keypair()) for _ in range(N)]
    orders = await asyncio.gather(*(w.call("POST", "/api/v1/order", _order()) for w in wires))
    first.kill()  # the instant the last answer is in
    await first.proc.wait()
    for w in wires:
        await w.close()

    second = await start_sim(1, "--state", str(state))
    procs.append(second)
    async with httpx.AsyncClient(base_url=second.rest_url, headers=control_headers(second)) as http:
        accounts = (await http.get("/_sim/state")).json()["accounts"]
    for wire, order in zip(wires, orders, strict=True):
        acc = accounts[wire.keys.api_key]
        assert [(o["id"], o["status"]) for o in acc["orders"]] == [(order["id"], "Filled")]
        assert [p["netQuantity"] for p in acc["positions"]] == ["1"]
