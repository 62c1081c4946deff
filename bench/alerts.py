"""Alert evaluation cost per tick: the bisect index against a linear scan, same run.

Issue 6 target: 10,000 armed alerts cost < 1 ms per tick. Each tick moves a random-walk price;
fired alerts are re-added at a fresh random threshold so the armed count stays constant. Also
measured: ticks per second through the whole :class:`AlertService` (index, hysteresis, move
alerts, the database write when something fires) on a real SQLite file.

Run: ``python -m bench.alerts`` (or ``python -m bench``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bot.alerts.index import AlertIndex, ArmedAlert, linear_scan
from bot.alerts.parse import AlertSpec
from bot.alerts.service import AlertService
from bot.clock import SystemClock
from bot.exchange.client import BackpackAPI
from bot.exchange.markets import Market
from bot.services.access import Actor
from bot.storage.alerts import AlertStore
from bot.storage.db import Database

D = Decimal
TICKS = 2000
SYMBOL = "BTC_USDC_PERP"


def _alerts(rng: random.Random, n: int, price: Decimal) -> list[ArmedAlert]:
    return [
        ArmedAlert(i, SYMBOL, rng.choice("<>"), price * D(1 + rng.uniform(-0.2, 0.2)))
        for i in range(n)
    ]


def per_tick(n: int) -> tuple[float, float]:
    """Median µs per tick for (index, linear scan) with ``n`` armed alerts."""
    rng = random.Random(n)
    price = D(100000)
    alerts = _alerts(rng, n, price)
    index = AlertIndex()
    for a in alerts:
        index.add(a)
    live = {a.id: a for a in alerts}
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(TICKS):
        price *= D(1 + rng.gauss(0, 0.001))
        snapshot = list(live.values())
        t0 = time.perf_counter_ns()
        fired = index.crossed(SYMBOL, price)
        t1 = time.perf_counter_ns()
        linear_scan(snapshot, SYMBOL, price)
        t2 = time.perf_counter_ns()
        ours.append((t1 - t0) / 1000)
        theirs.append((t2 - t1) / 1000)
        for a in fired:  # re-arm at a fresh level so n stays constant
            fresh = ArmedAlert(a.id, SYMBOL, a.op, price * D(1 + rng.uniform(-0.2, 0.2)))
            live[a.id] = fresh
            index.add(fresh)
    return statistics.median(ours), statistics.median(theirs)


async def service_rate(n: int) -> float:
    """Ticks per second through AlertService.on_price with ``n`` stored alerts."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.start()
        api = BackpackAPI(None, None, "http://127.0.0.1:9", "ws://127.0.0.1:9", logging.getLogger())
        api.markets[SYMBOL] = Market.from_wire(
            {
                "symbol": SYMBOL,
                "baseSymbol": "BTC",
                "quoteSymbol": "USDC",
                "marketType": "PERP",
                "filters": {
                    "price": {"tickSize": "0.1"},
                    "quantity": {"stepSize": "0.00001", "minQuantity": "0.00001"},
                },
            }
        )
        service = AlertService(AlertStore(db), api, SystemClock())
        price = D(100000)
        api.prices[SYMBOL] = price  # the range check reads the streamed price; no server here
        for i in range(n):
            level = (price * D(1 + rng.uniform(-0.3, 0.3))).quantize(D("0.1"))
            op = ">" if level > price else "<"
            user = 1 + i // service.max_per_user  # stay within the per-user cap
            await service.add(Actor(user, "trader", user), AlertSpec(SYMBOL, "price", op, level))
        t0 = time.perf_counter()
        for _ in range(TICKS):
            price *= D(1 + rng.gauss(0, 0.0002))
            await service.on_price(SYMBOL, price)
        elapsed = time.perf_counter() - t0
        await api.close()
        await db.close()
    return TICKS / elapsed


def main() -> None:
    print(
        f"{'alerts (bench/alerts.py)':<30} {'index µs':>9} {'linear µs':>10} {'ratio':>8}  target"
    )
    for n in (10, 1000, 10000):
        ours, linear = per_tick(n)
        target = "  <1000 µs " + ("ok" if ours < 1000 else "MISSED") if n == 10000 else ""
        ratio = linear / max(ours, 0.01)
        label = f"per tick, {n:,} armed"
        print(f"{label:<30} {ours:>9.1f} {linear:>10.1f} {ratio:>7.0f}x{target}")
    rate = asyncio.run(service_rate(1000))
    print(f"end to end: {rate:,.0f} ticks/s through AlertService (1,000 alerts, SQLite writes)")


if __name__ == "__main__":
    main()
