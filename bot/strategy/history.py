"""Load a backtest's input (funding-rate history + hourly klines) through the exchange client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.strategy.backtest import Candle, SymbolHistory
from bot.strategy.model import HOUR_MS, ONE, ZERO

if TYPE_CHECKING:
    from bot.exchange.client import BackpackAPI

PAGE = 1000
MAX_KLINES = 1000  # the exchange returns at most this many candles per request


def parse_ts_ms(text: str) -> int:
    """``"2025-09-11T12:00:00"`` or ``"2025-09-11 15:33:00"`` (naive UTC) → epoch ms."""
    dt = datetime.fromisoformat(text.replace(" ", "T"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


async def load_history(
    client: BackpackAPI, symbol: str, *, days: int, now_ms: int
) -> SymbolHistory:
    """``days`` of settled funding rates and hourly candles for one perp, ending at ``now_ms``."""
    markets = await client.load_markets()
    sym = await client.resolve_symbol(symbol)
    market = markets[sym]
    start_ms = now_ms - days * 24 * HOUR_MS
    funding: list[tuple[int, Decimal]] = []
    offset = 0
    while True:
        rows = await client.get_funding_history(sym, limit=PAGE, offset=offset)
        for r in rows:
            t = parse_ts_ms(str(r["intervalEndTimestamp"]))
            if start_ms < t <= now_ms:  # the in-progress interval is listed too: not settled
                funding.append((t, Decimal(str(r["fundingRate"]))))
        if len(rows) < PAGE or parse_ts_ms(str(rows[-1]["intervalEndTimestamp"])) <= start_ms:
            break
        offset += PAGE
    funding.sort()
    candles: list[Candle] = []
    cursor = start_ms // 1000 - 3600
    end_s = now_ms // 1000
    while cursor < end_s:
        chunk_end = min(end_s, cursor + MAX_KLINES * 3600)
        rows = await client.get_klines(sym, "1h", cursor, chunk_end)
        for k in rows:
            if k.get("close") is None:
                continue
            start = parse_ts_ms(str(k["start"]))
            if candles and start <= candles[-1].start_ms:
                continue
            qv = k.get("quoteVolume")
            candles.append(
                Candle(start, Decimal(str(k["close"])), Decimal(str(qv)) if qv else ZERO)
            )
        cursor = chunk_end
    spot = f"{market.base}_{market.quote}"
    interval = Decimal(market.funding_interval_ms) / HOUR_MS if market.funding_interval_ms else ONE
    return SymbolHistory(
        symbol=sym,
        base=market.base,
        funding=tuple(funding),
        candles=tuple(candles),
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        spot_symbol=spot if spot in markets else None,
        funding_interval_hours=interval,
    )
