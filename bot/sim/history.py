"""Generated history: 35 days of candles and funding and a trade tape per market; klines."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.book import Market
from bot.sim.markets import MarketSpec, fmt
from bot.sim.model import (
    HISTORY_HOURS,
    HOUR,
    ZERO,
    Candle,
    D,
    parse_error,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


#: The funding process, per interval: pull towards the market's rate (half-life ≈ 23 intervals),
#: noise, and rare regimes (a crowded side pays more for a while) — all in units of the market's
#: own rate, so a market quoting +0.0013 %/h has a history around +0.0013 %/h, not 15× that.
FUNDING_REVERSION = 0.03
FUNDING_NOISE = 0.2
FUNDING_REGIME_CHANCE = 0.015
FUNDING_REGIMES = (-1.0, 0.0, 0.0, 1.0, 2.0)


def funding_path(rng: random.Random, present: Decimal, count: int) -> list[float]:
    """``count`` settled funding rates, oldest first, of the process whose value now is
    ``present`` (the live rate the simulator quotes).

    The process is mean-reverting around ``present`` (an Ornstein-Uhlenbeck walk with regimes).
    It is generated from the present backwards — a stationary process looks the same run
    either way — so the newest settled rates join the live rate without a jump, and a
    backtest over this history sees the market the chat shows.
    """
    mean = float(present)
    scale = max(abs(mean), 0.00001)
    x, regime = mean, 0.0
    out: list[float] = []
    for _ in range(count):
        if rng.random() < FUNDING_REGIME_CHANCE:
            regime = rng.choice(FUNDING_REGIMES) * scale
        target = mean + regime
        x = target + (x - target) * (1 - FUNDING_REVERSION) + rng.gauss(0, FUNDING_NOISE * scale)
        out.append(x)
    out.reverse()
    return out


class History:
    """Generated history: 35 days of candles and funding and a trade tape per market; klines."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def add_market(self, spec: MarketSpec, now: float) -> None:
        rng = random.Random(f"{self.ex.seed}:{spec.symbol}")
        m = Market(
            spec=spec,
            mid=spec.price,
            last=spec.price,
            mark=spec.price,
            index=spec.price,
            funding_rate=spec.base_funding,
            rng=rng,
            salt=rng.randrange(1 << 30),
        )
        self._generate_history(m, now)
        m.rebuild()
        m.published = m.aggregated()
        self._seed_trades(m, now)
        m.open_interest = quantize_to(D(2_000_000) / spec.price, spec.step)
        self.ex.markets[spec.symbol] = m

    def _seed_trades(self, m: Market, now: float, count: int = 50) -> None:
        """Recent trades before the start (a real market is never silent), ending at ``last``."""
        rng = random.Random(f"{self.ex.seed}:{m.spec.symbol}:trades")
        spec = m.spec
        for i in range(count):
            price = m.last
            if i < count - 1:
                offset = D(rng.randint(-5, 5)) * m.gap
                price = max(spec.tick, quantize_to(m.last + offset, spec.tick))
            notional = D(str(round(rng.uniform(50, 5000), 2)))
            qty = max(spec.step, quantize_to(notional / price, spec.step))
            m.trades.append(
                {
                    "id": m.trade_id,
                    "price": fmt(price),
                    "quantity": fmt(qty),
                    "quoteQuantity": fmt(price * qty),
                    "timestamp": int((now - (count - i) * 6) * 1000),
                    "isBuyerMaker": rng.random() < 0.5,
                }
            )
            m.trade_id += 1

    def _generate_history(self, m: Market, now: float) -> None:
        """35 days of hourly candles and funding rates ending at the current price."""
        rng = random.Random(f"{self.ex.seed}:{m.spec.symbol}:history")
        hour = int(now // HOUR) * HOUR
        n = HISTORY_HOURS
        closes = [float(m.spec.price)]
        for _ in range(n):
            closes.append(closes[-1] * math.exp(rng.gauss(0, 0.006)))
        closes.reverse()  # closes[-1] is the current price
        tick = m.spec.tick
        candles: list[Candle] = []
        prev = closes[0]
        for i in range(n):
            start = hour - (n - i) * HOUR
            o, c = prev, closes[i + 1]
            hi = max(o, c) * (1 + abs(rng.gauss(0, 0.002)))
            lo = min(o, c) * (1 - abs(rng.gauss(0, 0.002)))
            vol = D(str(round(rng.uniform(200_000, 2_000_000) / c, 6)))
            q = [quantize_to(D(str(x)), tick, ROUND_HALF_UP) for x in (o, hi, lo, c)]
            candles.append(
                Candle(start, q[0], q[1], q[2], q[3], vol, vol * q[3], rng.randint(50, 900))
            )
            prev = c
        last = quantize_to(m.spec.price, tick)
        candles.append(Candle(hour, last, last, last, last))
        m.candles = candles
        # One settled rate per funding interval, as the venue pays them (hourly by default),
        # from the same process whose present value is the live rate (see funding_path).
        every = self.ex.funding_interval
        last_end = int(now // every) * every
        count = n * HOUR // every
        path = funding_path(rng, m.funding_rate, count)
        hist = [
            (last_end - (count - i - 1) * every, D(str(round(value, 9))))
            for i, value in enumerate(path)
        ]
        m.funding_history = hist if m.spec.is_perp else []

    def klines(
        self, symbol: str, interval: str, start: int, end: int | None
    ) -> list[dict[str, Any]]:
        m = self.ex.market(symbol)
        secs = INTERVALS.get(interval)
        if secs is None:
            raise parse_error("interval", '"KlineInterval": Expect a valid enumeration value.')
        end = end if end is not None else int(self.ex.clock.time())
        out: list[dict[str, Any]] = []
        if secs >= HOUR:
            per = secs // HOUR
            buckets: dict[int, list[Candle]] = {}
            for c in m.candles:
                b = (c.start // secs) * secs
                if b + secs <= start or b >= end:
                    continue
                buckets.setdefault(b, []).append(c)
            for b in sorted(buckets):
                cs = buckets[b]
                out.append(kline_row(b, secs, cs))
            del per
        else:
            for c in m.candles:
                if c.start + HOUR <= start or c.start >= end:
                    continue
                for sub in split_candle(c, secs, m.spec.tick, f"{self.ex.seed}{symbol}"):
                    if start <= sub.start + secs and sub.start < end:
                        out.append(kline_row(sub.start, secs, [sub]))
        return out[-1000:]

    def live_candle(self, m: Market, start: int, secs: int) -> Candle:
        """The candle of the interval in progress, from hourly candles or recent trades."""
        if secs >= HOUR:
            cs = [c for c in m.candles if c.start >= start]
            merged = kline_row(start, secs, cs or [m.candles[-1]])
            return Candle(
                start,
                D(merged["open"]),
                D(merged["high"]),
                D(merged["low"]),
                D(merged["close"]),
                D(merged["volume"]),
                D(merged["quoteVolume"]),
                int(merged["trades"]),
            )
        c = Candle(start, m.last, m.last, m.last, m.last)
        first = True
        for t in m.trades:
            if t["timestamp"] < start * 1000:
                continue
            price = D(t["price"])
            if first:
                c.open = c.high = c.low = price
                first = False
            c.update(price, D(t["quantity"]))
        return c


INTERVALS = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
    "1month": 2592000,
}


def kline_row(start: int, secs: int, cs: list[Candle]) -> dict[str, Any]:
    def ts(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

    return {
        "start": ts(start),
        "end": ts(start + secs),
        "open": fmt(cs[0].open),
        "high": fmt(max(c.high for c in cs)),
        "low": fmt(min(c.low for c in cs)),
        "close": fmt(cs[-1].close),
        "volume": fmt(sum((c.volume for c in cs), ZERO)),
        "quoteVolume": fmt(sum((c.quote_volume for c in cs), ZERO).quantize(D("0.000001"))),
        "trades": str(sum(c.trades for c in cs)),
    }


def split_candle(c: Candle, secs: int, tick: Decimal, salt: str) -> list[Candle]:
    """Deterministic sub-hour candles inside an hourly candle (same open, close, range)."""
    n = HOUR // secs
    rng = random.Random(f"{salt}:{c.start}:{secs}")
    o, cl = float(c.open), float(c.close)
    lo, hi = float(c.low), float(c.high)
    path = [o]
    for i in range(1, n):
        target = o + (cl - o) * i / n
        path.append(min(hi, max(lo, target + rng.gauss(0, (hi - lo) / 6 or 0.0))))
    path.append(cl)
    out = []
    for i in range(n):
        a, b = path[i], path[i + 1]
        q = [quantize_to(D(str(x)), tick, ROUND_HALF_UP) for x in (a, max(a, b), min(a, b), b)]
        out.append(
            Candle(
                c.start + i * secs,
                q[0],
                q[1],
                q[2],
                q[3],
                (c.volume / n).quantize(D("0.000001")),
                (c.quote_volume / n).quantize(D("0.000001")),
                c.trades // n,
            )
        )
    return out
