"""Strategy speed: one decision cycle over every perp, and a 30-day backtest over 10 perps.

Targets (issue 7): a decision cycle < 5 ms excluding I/O; a 30-day backtest over 10 perps
< 2 s. Baselines measured in the same run: the seed guide's bare rule (short above +0.0001,
long below -0.0001) over the same snapshot, and one plain pass over the same candles and
funding rates (the least work any backtest must do).

Run: ``python -m bench.strategy`` (or ``python -m bench``).
"""

from __future__ import annotations

import random
import statistics
import time
from decimal import Decimal

from bot.strategy.backtest import Candle, SymbolHistory, run_backtest
from bot.strategy.decide import decide
from bot.strategy.model import MarketSnapshot, PerpSnapshot, Portfolio, StrategyConfig

D = Decimal
BASES = ["BTC", "ETH", "SOL", "DOGE", "XRP", "AVAX", "LINK", "SUI", "kPEPE", "ARB"]
HOUR = 3_600_000
NOW = 1_760_000_000_000


def _book(mid: Decimal, sign: int, levels: int = 30) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((mid * (1 + sign * D(i + 1) / 10000), D(50 + 10 * i)) for i in range(levels))


def snapshot(rng: random.Random) -> MarketSnapshot:
    perps = []
    for base in BASES:
        mark = D(rng.randint(1, 100000))
        perps.append(
            PerpSnapshot(
                symbol=f"{base}_USDC_PERP",
                base=base,
                mark=mark,
                funding_rate=D(rng.randint(-60, 60)) / 100000,
                funding_interval_hours=D(1),
                volume_24h=D(50_000_000),
                step_size=D("0.0001"),
                min_quantity=D("0.0001"),
                bids=_book(mark, -1),
                asks=_book(mark, 1),
                spot_symbol=f"{base}_USDC",
                spot_step_size=D("0.0001"),
                spot_min_quantity=D("0.0001"),
                spot_bids=_book(mark, -1),
                spot_asks=_book(mark, 1),
                spot_price=mark,
            )
        )
    return MarketSnapshot(perps=tuple(perps), taken_at_ms=NOW)


def seed_rule(snap: MarketSnapshot) -> list[tuple[str, str]]:
    out = []
    for p in snap.perps:
        if p.funding_rate > D("0.0001"):
            out.append((p.symbol, "SELL"))
        elif p.funding_rate < D("-0.0001"):
            out.append((p.symbol, "BUY"))
    return out


def histories(rng: random.Random, days: int = 30) -> list[SymbolHistory]:
    out = []
    hours = days * 24
    start = NOW - hours * HOUR
    for base in BASES:
        price = D(rng.randint(10, 1000))
        candles = []
        funding = []
        rate = D(0)
        for h in range(hours):
            price = max(D("0.01"), price * (1 + D(rng.gauss(0, 0.004)).quantize(D("0.00001"))))
            candles.append(Candle(start + h * HOUR, price, D(2_000_000)))
            rate = (rate * D("0.9") + D(rng.gauss(0.00005, 0.0001))).quantize(D("0.0000001"))
            funding.append((start + (h + 1) * HOUR, rate))
        out.append(
            SymbolHistory(
                symbol=f"{base}_USDC_PERP",
                base=base,
                funding=tuple(funding),
                candles=tuple(candles),
                spot_symbol=f"{base}_USDC",
            )
        )
    return out


def _median_ms(fn: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    rng = random.Random(7)
    snap = snapshot(rng)
    config = StrategyConfig(max_positions=10)
    empty = Portfolio(positions=(), last_exit_ms={})
    cycle = _median_ms(lambda: decide(snap, empty, config, NOW), 300)
    base = _median_ms(lambda: seed_rule(snap), 300)
    hist = histories(rng)
    t0 = time.perf_counter()
    result = run_backtest(hist, config)
    backtest_s = time.perf_counter() - t0

    def plain_pass() -> Decimal:
        total = D(0)
        for h in hist:
            for c, (_, r) in zip(h.candles, h.funding, strict=True):
                total += c.close * r
        return total

    t0 = time.perf_counter()
    plain_pass()
    plain_s = time.perf_counter() - t0
    print(
        f"{'strategy (bench/strategy.py)':<34} {'ours':>10} {'baseline':>10} {'ratio':>7}  target"
    )
    ok = "ok" if cycle < 5 else "MISSED"
    label = "decision cycle, 10 perps (ms)"
    print(f"{label:<34} {cycle:>10.3f} {base:>10.3f} {cycle / base:>7.1f}  <5 ms {ok}")
    ok = "ok" if backtest_s < 2 else "MISSED"
    print(
        f"{'backtest 30 d x 10 perps (s)':<34} {backtest_s:>10.3f} {plain_s:>10.3f} "
        f"{backtest_s / plain_s:>7.1f}  <2 s {ok}"
    )
    print(f"  ({result.round_trips} round trips, net {result.net:.2f} USDC on synthetic data)")
    print("baselines: the seed's bare rule on the same snapshot / one plain pass over the data")


if __name__ == "__main__":
    main()
