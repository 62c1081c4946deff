"""Paper durability: ``kill -9`` right after an answer never loses what the answer said.

A real ``python -m bot.sim --state PATH`` process, killed with SIGKILL the moment an HTTP
response or a private WebSocket frame arrives, then restarted on the same state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bot.sim import Simulator
from bot.sim.engine import Engine
from bot.sim.store import StateStore
from tests.conftest import control_headers
from tests.keys import KeyPair, new_keypair
from tests.sim.wire import Wire
from tests.simproc import SimProcess, start_sim

SOL = "SOL_USDC_PERP"


async def start(state: Path) -> SimProcess:
    return await start_sim(1, "--state", str(state))


@pytest.fixture
async def procs() -> AsyncIterator[list[SimProcess]]:
    started: list[SimProcess] = []
    yield started
    for p in started:
        p.kill()
        await p.proc.wait()


async def account_state(sim: SimProcess, key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.rest_url, headers=control_headers(sim)) as http:
        data: dict[str, Any] = (await http.get("/_sim/state")).json()["accounts"][key]
        return data


async def test_kill_after_order_response_keeps_the_fill(
    tmp_path: Path, procs: list[SimProcess]
) -> None:
    state = tmp_path / "paper.json"
    keys = new_keypair()
    first = await start(state)
    procs.append(first)
    wire = Wire(first.rest_url, keys)
    order = await wire.call(
        "POST",
        "/api/v1/order",
        {"symbol": SOL, "side": "Bid", "orderType": "Market", "quantity": "3"},
    )
    first.kill()  # the instant the answer is in
    await first.proc.wait()
    await wire.close()

    second = await start(state)
    procs.append(second)
    acc = await account_state(second, keys.api_key)
    assert [o["id"] for o in acc["orders"]] == [order["id"]]
    assert acc["orders"][0]["status"] == "Filled"
    assert [f["orderId"] for f in acc["fills"]] == [order["id"]]
    assert [p["netQuantity"] for p in acc["positions"]] == ["3"]
    wire = Wire(second.rest_url, keys)
    nxt = await wire.call(
        "POST",
        "/api/v1/order",
        {"symbol": SOL, "side": "Ask", "orderType": "Market", "quantity": "1"},
    )
    assert int(nxt["id"]) > int(order["id"])
    await wire.close()


async def _fill_frame(ws: Any) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg.get("data", {}).get("e") == "orderFill":
            data: dict[str, Any] = msg["data"]
            return data


async def test_kill_after_fill_frame_keeps_the_fill(
    tmp_path: Path, procs: list[SimProcess]
) -> None:
    """A resting order filled by a price move: the frame never gets ahead of the disk."""
    state = tmp_path / "paper.json"
    keys: KeyPair = new_keypair()
    first = await start(state)
    procs.append(first)
    wire = Wire(first.rest_url, keys)
    mark = (await wire.call("GET", "/api/v1/markPrices", {"symbol": SOL}))[0]["markPrice"]
    price = f"{float(mark) * 0.99:.2f}"
    order = await wire.call(
        "POST",
        "/api/v1/order",
        {"symbol": SOL, "side": "Bid", "orderType": "Limit", "quantity": "2", "price": price},
    )
    assert order["status"] == "New"
    async with websockets.connect(first.ws_url) as ws:
        await ws.send(wire.subscribe_frame(["account.orderUpdate"]))
        await asyncio.sleep(0.2)  # the subscribe is read before the price moves
        await wire.http.post(
            "/_sim/price",
            json={"symbol": SOL, "price": f"{float(price) * 0.98:.2f}"},
            headers=control_headers(first),
        )
        fill = await _fill_frame(ws)
        first.kill()
    await first.proc.wait()
    await wire.close()
    assert fill["i"] == order["id"]

    second = await start(state)
    procs.append(second)
    acc = await account_state(second, keys.api_key)
    assert acc["orders"][0]["status"] == "Filled"
    assert acc["fills"] and acc["fills"][0]["orderId"] == order["id"]
    assert [p["netQuantity"] for p in acc["positions"]] == ["2"]


async def test_kill_after_position_snapshot_keeps_the_position(
    tmp_path: Path, procs: list[SimProcess]
) -> None:
    """A subscription's position snapshot (or, if the order comes second, the live position
    frame) is sent once what it shows is on disk; with a state file it is sent at all."""
    state = tmp_path / "paper.json"
    keys = new_keypair()
    first = await start(state)
    procs.append(first)
    wire = Wire(first.rest_url, keys)
    order = {"symbol": SOL, "side": "Bid", "orderType": "Market", "quantity": "3"}
    async with websockets.connect(first.ws_url) as ws:
        await asyncio.gather(
            wire.call("POST", "/api/v1/order", order),
            ws.send(wire.subscribe_frame(["account.positionUpdate"])),
        )
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        first.kill()
    await first.proc.wait()
    await wire.close()
    assert frame["stream"] == "account.positionUpdate"
    shown = frame["data"]["q"]

    second = await start(state)
    procs.append(second)
    acc = await account_state(second, keys.api_key)
    assert [p["netQuantity"] for p in acc["positions"]] == [shown]


async def test_many_orders_survive_compaction_and_restart(
    tmp_path: Path, procs: list[SimProcess]
) -> None:
    """Journal, snapshot, torn tail: the restart sees every answered order, ids only grow."""
    state = tmp_path / "paper.json"
    keys = new_keypair()
    first = await start(state)
    procs.append(first)
    wire = Wire(first.rest_url, keys)
    ids = []
    for i in range(20):
        o = await wire.call(
            "POST",
            "/api/v1/order",
            {
                "symbol": SOL,
                "side": "Bid" if i % 2 else "Ask",
                "orderType": "Market",
                "quantity": "1",
            },
        )
        ids.append(o["id"])
    first.kill()
    await first.proc.wait()
    await wire.close()
    wal = state.with_name(state.name + ".wal")
    with wal.open("ab") as fh:
        fh.write(b'{"generation": 1, "changes": {"acc')  # a torn last line

    second = await start(state)
    procs.append(second)
    acc = await account_state(second, keys.api_key)
    assert [o["id"] for o in acc["orders"]] == ids
    assert len(acc["fills"]) >= 20
    wire = Wire(second.rest_url, keys)
    nxt = await wire.call(
        "POST",
        "/api/v1/order",
        {"symbol": SOL, "side": "Bid", "orderType": "Market", "quantity": "1"},
    )
    assert int(nxt["id"]) > int(ids[-1])
    await wire.close()


async def test_a_file_from_before_the_journal_still_loads(tmp_path: Path) -> None:
    """Paper accounts saved by the previous format (a bare engine dump) are read, then folded."""
    state = tmp_path / "paper-sim.json"
    order = {
        "id": "8284661100",
        "account": "k",
        "symbol": SOL,
        "side": "Bid",
        "order_type": "Limit",
        "quantity": "1",
        "price": "100",
        "quote_quantity": None,
        "client_id": None,
        "tif": "GTC",
        "post_only": False,
        "reduce_only": False,
        "stp": "RejectTaker",
        "created_ms": 1,
        "status": "New",
        "executed": "0",
        "executed_quote": "0",
        "expiry_reason": None,
        "locked_asset": None,
        "locked": "0",
    }
    old = {
        "next_order_id": 8284661200,
        "next_user_id": 1813871,
        "next_position_id": 5479295502,
        "next_fill_id": 2959284,
        "accounts": [
            {
                "key": "k",
                "user_id": 1813870,
                "balances": {"USDC": ["100000", "0"]},
                "positions": [
                    {
                        "symbol": SOL,
                        "position_id": "5479295501",
                        "qty": "2",
                        "entry": "180",
                        "realized": "0",
                        "funding": "0",
                        "fees": "0",
                    }
                ],
                "orders": [order],
                "fills": [],
                "funding": [],
            }
        ],
    }
    state.write_text(json.dumps(old))
    async with Simulator(seed=1, random_walk=False, state_path=state) as sim:
        acc = sim.engine.state()["accounts"]["k"]
        assert [o["id"] for o in acc["orders"]] == ["8284661100"]
        assert acc["positions"][0]["netQuantity"] == "2"
        assert sim.engine.next_order_id == 8284661200
    assert json.loads(state.read_text())["generation"] >= 1


def test_engine_load_reads_its_dump_and_a_store_snapshot(tmp_path: Path) -> None:
    engine = Engine(seed=1)
    engine.execute("k", {"symbol": SOL, "side": "Bid", "orderType": "Market", "quantity": "1"})
    store = StateStore(tmp_path / "s.json")
    store.compact(engine)
    store.close()
    for text in (engine.dump(), (tmp_path / "s.json").read_text()):
        other = Engine(seed=1)
        other.load(text)
        assert other.state()["accounts"]["k"]["positions"][0]["netQuantity"] == "1"


def test_a_crash_between_snapshot_and_journal_reset_replays_nothing_stale(
    tmp_path: Path,
) -> None:
    """The fold writes the snapshot, then empties the journal; dying in between is harmless."""
    path = tmp_path / "s.json"
    engine = Engine(seed=1)
    store = StateStore(path)
    store.load(engine)
    engine.execute("k", {"symbol": SOL, "side": "Bid", "orderType": "Market", "quantity": "1"})
    store.save(engine)
    old_journal = store.wal_path.read_bytes()
    engine.execute("k", {"symbol": SOL, "side": "Ask", "orderType": "Market", "quantity": "1"})
    store.save(engine)
    store.compact(engine)  # the snapshot now has both orders ...
    store.close()
    store.wal_path.write_bytes(old_journal)  # ... but the old journal was never emptied
    (tmp_path / "s.json.abc.tmp").write_text("{half")  # and a cut-short snapshot write
    restored = Engine(seed=1)
    StateStore(path).load(restored)
    acc = restored.state()["accounts"]["k"]
    assert len(acc["orders"]) == 2 and acc["positions"] == []
    assert not list(tmp_path.glob("*.tmp"))
