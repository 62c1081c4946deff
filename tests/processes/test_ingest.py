"""``python -m bot ingest``: one leader and one standby as real processes on one PostgreSQL
database, against the simulator process over HTTP/WS.

* SIGKILL the leader: the standby leads and streams within 5 s (the measured takeover printed);
* an alert added through the store by another engine (as a web process adds it: one NOTIFY)
  fires after a price crossing exactly once, even when the leader dies right after writing its
  notice — between the outbox row and the alert's fired state, or right after the fired state
  (crash points) — or is SIGKILLed from outside right after the crossing; the next crossing is
  told once more;
* the ``prices`` table is written at most once a second per symbol over a burst of ticks
  (counted by a trigger on the table).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.alerts.service import STORED_FIRED
from bot.processes.ingest import NOTICED, alert_key
from bot.storage.alerts import Alert, AlertStore
from bot.storage.db import Database
from tests.bot.conftest import ALICE
from tests.conftest import Control
from tests.keys import new_keypair
from tests.processes.ingest_procs import IngestProcess, Pg, ingest_env, until
from tests.simproc import SimProcess, start_sim

#: The price walk is off (one move an hour): every tick here is one the test posted.
QUIET = ("--tick-interval", "3600")
SYMBOL = "SOL_USDC"  # 180 at the start


@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    process = await start_sim(11, *QUIET)
    yield process
    await process.stop()


@pytest.fixture
async def control(sim: SimProcess) -> AsyncIterator[Control]:
    c = Control(sim)
    yield c
    await c.close()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Pg]:
    db = Database(pg_url)  # migrated once, before any process starts
    await db.start()
    await db.close()
    conn = await Pg.connect(pg_url)
    yield conn
    await conn.close()


@pytest.fixture
async def procs(tmp_path: Path) -> AsyncIterator[list[IngestProcess]]:
    started: list[IngestProcess] = []
    yield started
    for p in started:
        await p.stop()


async def start(
    procs: list[IngestProcess], sim: SimProcess, url: str, tmp_path: Path, **extra: str
) -> IngestProcess:
    name = f"ingest{len(procs)}"
    p = IngestProcess(ingest_env(sim, url, tmp_path / name, **extra), tmp_path / f"{name}.log")
    procs.append(p)
    await p.start()
    await p.wait_line("standby")
    return p


async def price(control: Control, value: str, symbol: str = SYMBOL) -> None:
    await control.post("price", {"symbol": symbol, "price": value})


async def written(pg: Pg, symbol: str = SYMBOL) -> Decimal | None:
    raw = await pg.value("SELECT price FROM prices WHERE symbol = $1", symbol)
    return Decimal(raw) if raw is not None else None


async def add_alert(
    url: str, threshold: str, op: str = ">", *, kind: str = "price", symbol: str = SYMBOL
) -> Alert:
    """As a web process adds one: its own engine, the store's write (and its NOTIFY)."""
    db = Database(url)
    try:
        return await AlertStore(db).add(
            user_id=ALICE,
            chat_id=ALICE,
            symbol=symbol,
            kind=kind,
            op=op,
            threshold=Decimal(threshold),
            window_seconds=None,
            now_ms=int(time.time() * 1000),
        )
    finally:
        await db.close()


async def notices(pg: Pg, alert_id: int) -> list[str]:
    rows = await pg.rows(
        "SELECT dedupe_key FROM outbox_messages WHERE dedupe_key LIKE $1 ORDER BY id",
        f"alert:{alert_id}:%",
    )
    return [r["dedupe_key"] for r in rows]


async def alert_state(pg: Pg, alert_id: int) -> tuple[bool, int]:
    row = (await pg.rows("SELECT armed, fired_count FROM alerts WHERE id = $1", alert_id))[0]
    return bool(row["armed"]), int(row["fired_count"])


async def test_standby_takes_over_within_five_seconds(
    pg_url: str,
    pg: Pg,
    sim: SimProcess,
    control: Control,
    procs: list[IngestProcess],
    tmp_path: Path,
) -> None:
    a = await start(procs, sim, pg_url, tmp_path)
    await a.wait_line("leading")
    await a.wait_line("streaming")
    b = await start(procs, sim, pg_url, tmp_path)
    await price(control, "181.5")
    await until(lambda: _near(pg, "181.5"), 10, "the leader writes prices")
    assert not b.said("leading")

    killed = a.kill()
    assert await a.wait() == -9
    led = await b.wait_line("leading", timeout=10)
    streams = await b.wait_line("streaming", timeout=10)
    await price(control, "123.45")
    await until(lambda: _near(pg, "123.45"), 10, "the new leader writes prices")
    priced = time.monotonic()
    print(
        f"\ningest takeover: leading {led - killed:.2f} s, streaming {streams - killed:.2f} s, "
        f"first price of the new leader in the table {priced - killed:.2f} s after SIGKILL"
    )
    assert streams - killed < 5.0
    assert await b.stop() == 0


async def _near(pg: Pg, value: str) -> bool:
    seen = await written(pg)
    return seen is not None and abs(seen - Decimal(value)) < Decimal("0.05")


@pytest.mark.parametrize(
    "kill",
    # the two crash points pin the order of the writes; a kill from outside lands in either
    # window depending on timing: the long variant
    [NOTICED, STORED_FIRED, pytest.param("sigkill", marks=pytest.mark.crash)],
)
async def test_alert_added_elsewhere_fires_once_across_a_leader_kill(
    kill: str,
    pg_url: str,
    pg: Pg,
    sim: SimProcess,
    control: Control,
    procs: list[IngestProcess],
    tmp_path: Path,
) -> None:
    crash = {"BOT_CRASH_AT": kill} if kill != "sigkill" else {}
    a = await start(procs, sim, pg_url, tmp_path, **crash)
    await a.wait_line("streaming")
    b = await start(procs, sim, pg_url, tmp_path)
    alert = await add_alert(pg_url, "250")  # SOL at 180: armed, not crossed

    await price(control, "300")  # the crossing
    first = alert_key(alert.id, 1)
    if kill == "sigkill":
        # right after its notice is in the outbox: before or after the fired state, whichever
        await until(lambda: _has(pg, alert.id, first), 20, "the leader writes the notice")
        a.kill()
    assert await a.wait() == -9  # or a crash point kills it: between the writes, or after
    await b.wait_line("leading", timeout=10)
    await until(lambda: _fired(pg, alert.id, 1), 10, "the new leader settles the crossing")
    await b.wait_line("streaming", timeout=10)
    await price(control, "301")  # another tick above: the same crossing, nothing new
    await until(lambda: _near(pg, "301"), 10, "the new leader sees the tick")
    assert await notices(pg, alert.id) == [first]
    assert await alert_state(pg, alert.id) == (False, 1)

    await price(control, "180")  # back below the band: re-armed
    await until(lambda: _armed(pg, alert.id), 10, "the alert re-arms")
    await price(control, "300")  # the second crossing: told once more
    await until(lambda: _fired(pg, alert.id, 2), 10, "the second crossing fires")
    assert await notices(pg, alert.id) == [first, alert_key(alert.id, 2)]
    row = await pg.rows(
        "SELECT chat_id, text FROM outbox_messages WHERE dedupe_key = $1", alert_key(alert.id, 2)
    )
    assert row[0]["chat_id"] == ALICE and f"alert #{alert.id}" in row[0]["text"]


async def _has(pg: Pg, alert_id: int, key: str) -> bool:
    return key in await notices(pg, alert_id)


async def _fired(pg: Pg, alert_id: int, n: int) -> bool:
    return await alert_state(pg, alert_id) == (False, n)


async def _armed(pg: Pg, alert_id: int) -> bool:
    return (await alert_state(pg, alert_id))[0]


async def test_prices_are_written_at_most_once_a_second_per_symbol(
    pg_url: str,
    pg: Pg,
    sim: SimProcess,
    control: Control,
    procs: list[IngestProcess],
    tmp_path: Path,
) -> None:
    await pg.execute(
        "CREATE TABLE price_writes (symbol text, at timestamptz DEFAULT clock_timestamp());"
        "CREATE FUNCTION count_price_write() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO price_writes (symbol) VALUES (NEW.symbol); RETURN NEW; END $$;"
        "CREATE TRIGGER price_written AFTER INSERT OR UPDATE ON prices"
        " FOR EACH ROW EXECUTE FUNCTION count_price_write();"
    )
    a = await start(procs, sim, pg_url, tmp_path)
    await a.wait_line("streaming")
    await price(control, "170")
    await until(lambda: _near(pg, "170"), 10, "the first price written")
    await pg.execute("DELETE FROM price_writes")

    began = time.monotonic()
    ticks = 0
    while time.monotonic() - began < 3.0:  # a burst: ~3 s of ticks as fast as they go
        await price(control, f"{170 + ticks % 50 / 10:.2f}")
        ticks += 1
    last = f"{170 + (ticks - 1) % 50 / 10:.2f}"
    await until(lambda: _near(pg, last), 5, "the burst's last price written")
    elapsed = time.monotonic() - began
    writes = await pg.rows("SELECT at FROM price_writes WHERE symbol = $1 ORDER BY at", SYMBOL)
    gaps = [(b["at"] - a["at"]).total_seconds() for a, b in itertools.pairwise(writes)]
    print(f"\nprices: {ticks} ticks of {SYMBOL} in 3 s → {len(writes)} writes in {elapsed:.1f} s")
    assert ticks >= 30, "the burst was too slow to show the throttle"
    assert 2 <= len(writes) <= elapsed + 1
    assert min(gaps) >= 0.9  # one write a second at most


async def test_a_leader_that_loses_its_lock_exits_and_the_standby_leads(
    pg_url: str,
    pg: Pg,
    sim: SimProcess,
    control: Control,
    procs: list[IngestProcess],
    tmp_path: Path,
) -> None:
    a = await start(procs, sim, pg_url, tmp_path)
    await a.wait_line("streaming")
    b = await start(procs, sim, pg_url, tmp_path)
    ended = await pg.value(  # the session holding the lead ends (a server restart, a failover)
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
        " WHERE locktype = 'advisory' AND granted AND objsubid = 2"
        " AND classid = 22 AND objid = hashtext('leader:ingest')::oid"
    )
    assert ended == 1
    assert await a.wait(15) == 1  # stops leading at once; its supervisor restarts it
    await b.wait_line("leading", timeout=10)
    await b.wait_line("streaming", timeout=10)
    await price(control, "150")
    await until(lambda: _near(pg, "150"), 10, "the new leader writes prices")


async def test_spread_alerts_read_both_venues(
    pg_url: str,
    pg: Pg,
    sim: SimProcess,
    control: Control,
    procs: list[IngestProcess],
    tmp_path: Path,
) -> None:
    """With a hedge venue (a second simulator through ccxt), the leader reads both venues'
    funding for spread alerts and tells a crossing once."""
    venue_b = await start_sim(12, "--funding-interval", "28800", *QUIET)
    hedge = Control(venue_b)
    try:
        await control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.0001"})
        await hedge.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.0024"})  # 175 % APR
        alert = await add_alert(pg_url, "1", kind="spread_apr", symbol="BTC_USDC_PERP")
        keys = new_keypair()
        credentials = json.dumps({"apiKey": keys.api_key, "secret": keys.api_secret})
        a = await start(
            procs,
            sim,
            pg_url,
            tmp_path,
            HEDGE_EXCHANGE="backpack",
            HEDGE_API_URL=venue_b.rest_url,
            HEDGE_CREDENTIALS=credentials,
        )
        await a.wait_line("leading")
        await until(lambda: _fired(pg, alert.id, 1), 30, "the spread alert fires")
        assert await notices(pg, alert.id) == [alert_key(alert.id, 1)]
        text = await pg.value(
            "SELECT text FROM outbox_messages WHERE dedupe_key = $1", alert_key(alert.id, 1)
        )
        assert "funding spread across venues" in text and "175.20%" in text
    finally:
        await hedge.close()
        await venue_b.stop()
