"""The simulated market continues across a restart: prices, funding and history, no jump back.

Before: paper mode on ``EXCHANGE=sim`` started every run at the seed's prices (BTC back to
96,939 from ~100,900) and the default funding rate; an open short's PnL jumped and the strategy
saw funding "fall".
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bot.clock import SystemClock
from bot.paper import PaperExchange
from bot.settings import Settings
from bot.sim import Simulator
from bot.sim.engine import Engine
from bot.sim.store import StateStore
from tests.conftest import control_headers
from tests.simproc import start_sim

BTC = "BTC_USDC_PERP"
PUSHED = Decimal("100900")
RATE = Decimal("0.0005")


def market_of(engine: Engine, symbol: str = BTC) -> dict[str, Any]:
    m = engine.markets[symbol]
    return {
        "last": m.last,
        "mark": m.mark,
        "index": m.index,
        "rate": m.funding_rate,
        "candles": [(c.start, c.open, c.high, c.low, c.close, c.volume) for c in m.candles],
        "funding": list(m.funding_history),
        "trades": [t["id"] for t in m.trades],
    }


async def moved(engine: Engine, symbol: str = BTC, timeout: float = 10.0) -> None:
    """Wait until the random walk has moved the book at least once (deadline ``timeout``)."""
    start = engine.markets[symbol].update_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while engine.markets[symbol].update_id == start:
        assert loop.time() < deadline, "the random walk never moved"
        await asyncio.sleep(0.05)


async def test_paper_mode_on_the_simulator_resumes_its_market(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        exchange="sim",
        trading_mode="paper",
        data_dir=tmp_path,
        sim_tick_seconds=0.05,
    )
    paper = PaperExchange(settings, SystemClock())
    seed_mark = paper.sim.engine.markets[BTC].mark
    await paper.sim.start()
    engine = paper.sim.engine
    engine.set_price(BTC, PUSHED)
    engine.set_funding(BTC, RATE)
    engine.settle_funding()  # one more settled rate in the history
    await moved(engine)
    await paper.stop()
    before = {s: market_of(engine, s) for s in engine.markets}
    assert before[BTC]["funding"][-1][1] == RATE

    again = PaperExchange(settings, SystemClock())
    after = {s: market_of(again.sim.engine, s) for s in again.sim.engine.markets}
    assert after == before
    assert after[BTC]["mark"] != seed_mark and abs(after[BTC]["mark"] / PUSHED - 1) < Decimal(
        "0.01"
    )
    await again.sim.start()
    try:
        async with httpx.AsyncClient(base_url=again.sim.rest_url) as http:
            row = (await http.get("/api/v1/markPrices", params={"symbol": BTC})).json()[0]
            rates = (await http.get("/api/v1/fundingRates", params={"symbol": BTC})).json()
        assert abs(Decimal(row["markPrice"]) / PUSHED - 1) < Decimal("0.01")
        assert Decimal(row["fundingRate"]) == RATE
        assert [Decimal(r["fundingRate"]) for r in rates[:2]] == [RATE, RATE]
        await moved(again.sim.engine)  # and the walk goes on from there
    finally:
        await again.stop()


async def test_a_killed_simulator_process_comes_back_at_the_pushed_price(tmp_path: Path) -> None:
    """``python -m bot.sim --state``: SIGKILL right after the control API's answer."""
    state = tmp_path / "paper-sim.json"
    first = await start_sim(1, "--state", str(state))
    try:
        headers = control_headers(first)
        async with httpx.AsyncClient(base_url=first.rest_url, headers=headers) as http:
            seed = (await http.get("/api/v1/markPrices", params={"symbol": BTC})).json()[0]
            price = {"symbol": BTC, "price": str(PUSHED)}
            assert (await http.post("/_sim/price", json=price)).status_code == 200
            funding = {"symbol": BTC, "rate": str(RATE)}
            assert (await http.post("/_sim/funding", json=funding)).status_code == 200
            klines = (
                await http.get(
                    "/api/v1/klines", params={"symbol": BTC, "interval": "1h", "startTime": "0"}
                )
            ).json()
    finally:
        first.kill()
        await first.proc.wait()
    second = await start_sim(1, "--state", str(state))
    try:
        async with httpx.AsyncClient(base_url=second.rest_url) as http:
            row = (await http.get("/api/v1/markPrices", params={"symbol": BTC})).json()[0]
            again = (
                await http.get(
                    "/api/v1/klines", params={"symbol": BTC, "interval": "1h", "startTime": "0"}
                )
            ).json()
    finally:
        await second.stop()
    assert abs(Decimal(seed["markPrice"]) / PUSHED - 1) > Decimal("0.02")  # a real difference
    assert abs(Decimal(row["markPrice"]) / PUSHED - 1) < Decimal("0.005"), row
    assert Decimal(row["fundingRate"]) == RATE
    assert again[:-1] == klines[:-1]  # every closed hour is the same history


async def test_the_market_journal_record_is_a_small_tail(tmp_path: Path) -> None:
    """Between snapshots only the live state and the newest history go to the journal."""
    path = tmp_path / "s.json"
    async with Simulator(seed=1, state_path=path, tick_interval=0.05) as sim:
        await moved(sim.engine)
        sim.engine.set_price(BTC, PUSHED)
        sim.server.flush()
        snapshot = len(path.read_bytes())
        wal = path.with_name(path.name + ".wal").read_bytes()
    records = [json.loads(line) for line in wal.split()]
    sizes = [len(json.dumps(r)) for r in records if "markets" in r]
    assert sizes and max(sizes) < 64_000 and max(sizes) * 20 < snapshot, (sizes, snapshot)


def test_without_a_random_walk_the_market_is_not_kept(tmp_path: Path) -> None:
    """Paper on real data mirrors the real market: nothing of it is restored from disk."""
    path = tmp_path / "s.json"
    engine = Engine(seed=1)
    store = StateStore(path)
    store.load(engine)
    engine.set_price(BTC, PUSHED)
    store.save(engine)
    store.close()
    fresh = Engine(seed=1)
    StateStore(path).load(fresh)
    assert fresh.markets[BTC].mark != PUSHED
    assert "markets" not in json.loads(path.read_text())["engine"]
