"""Load a backtest's input (funding-rate history + hourly klines) through the exchange client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.strategy.backtest import Candle, SymbolHistory
from bot.strategy.cross import VenueHistory, merge_funding
from bot.strategy.model import HOUR_MS, ONE, ZERO
from bot.venues.backpack import BackpackVenue
from bot.venues.pairs import match
from bot.venues.port import OrderBook, VenueError

if TYPE_CHECKING:
    from bot.exchange.client import BackpackAPI
    from bot.venues.port import HistoryVenue

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


async def load_cross_history(
    client: BackpackAPI, hedge: HistoryVenue, base: str, *, days: int, now_ms: int
) -> tuple[VenueHistory, VenueHistory]:
    """Both venues' settled funding and hourly closes for one asset (Backpack first).

    Each venue's funding interval, step, minimum, taker fee and current half-spread are read
    from the venue itself; the hedge goes through ccxt (``fetchFundingRateHistory``, OHLCV).
    """
    primary = BackpackVenue(client)
    pairs = match(await primary.markets(), await hedge.markets())
    pair = next((p for p in pairs if p.base == base.strip().upper()), None)
    if pair is None:
        raise VenueError(hedge.name, f"no {base} perp on both venues")
    ours = await load_history(client, pair.primary.symbol, days=days, now_ms=now_ms)
    start = now_ms - days * 24 * HOUR_MS
    fa, fb = await primary.funding(pair.primary.symbol), await hedge.funding(pair.hedge.symbol)
    ba, bb = (
        await primary.order_book(pair.primary.symbol, 5),
        await hedge.order_book(pair.hedge.symbol, 5),
    )
    a = VenueHistory(
        name=primary.name,
        interval_hours=fa.interval_hours,
        funding=merge_funding(ours.funding),
        closes=tuple((c.start_ms + HOUR_MS, c.close) for c in ours.candles),
        step=pair.primary.step,
        min_quantity=pair.primary.min_quantity,
        taker_fee=pair.primary.taker_fee,
        half_spread=_half_spread(ba),
    )
    b = VenueHistory(
        name=hedge.name,
        interval_hours=fb.interval_hours,
        funding=merge_funding(await hedge.rate_history(pair.hedge.symbol, start)),
        closes=tuple(await hedge.hourly_closes(pair.hedge.symbol, start, now_ms)),
        step=pair.hedge.step,
        min_quantity=pair.hedge.min_quantity,
        taker_fee=pair.hedge.taker_fee,
        half_spread=_half_spread(bb),
    )
    return a, b


def _half_spread(book: OrderBook) -> Decimal:
    """Half the current bid/ask spread as a fraction of mid (the synthetic book's cost)."""
    if not book.bids or not book.asks:
        return Decimal("0.001")
    bid, ask = book.bids[0][0], book.asks[0][0]
    return (ask - bid) / (ask + bid)
