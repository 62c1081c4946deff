"""Market views: prices, funding and the order book as plain data (no Telegram types)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import InvalidSymbol

HOURS_PER_YEAR = Decimal(24 * 365)


@dataclass(frozen=True, slots=True)
class PriceView:
    symbol: str
    last: Decimal
    mark: Decimal | None
    index: Decimal | None
    change_24h: Decimal  # fraction
    high: Decimal
    low: Decimal
    best_bid: Decimal | None
    best_ask: Decimal | None
    tick: Decimal | None = None  # the market's price step, for display


@dataclass(frozen=True, slots=True)
class FundingView:
    symbol: str
    rate: Decimal  # per interval, fraction
    interval_hours: Decimal
    apr: Decimal  # fraction per year
    next_funding: datetime
    mark: Decimal
    position_qty: Decimal | None  # signed
    expected_payment: Decimal | None  # USDC, + received / - paid


@dataclass(frozen=True, slots=True)
class BookView:
    symbol: str
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    mid: Decimal | None
    spread: Decimal | None
    bid_depth_usd: Decimal
    ask_depth_usd: Decimal
    tick: Decimal | None = None  # the market's price step, for display
    step: Decimal | None = None  # the market's quantity step, for display


def apr(rate: Decimal, interval_hours: Decimal) -> Decimal:
    """Annualised simple rate from a per-interval funding rate."""
    return rate * HOURS_PER_YEAR / interval_hours


def funding_payment(rate: Decimal, qty: Decimal, mark: Decimal) -> Decimal:
    """What a position receives (+) or pays (−) at the next funding: longs pay positive rates."""
    return -(rate * qty * mark)


class MarketService:
    """Reads public data through the market client; ``account`` supplies held positions."""

    def __init__(self, market: BackpackAPI, account: BackpackAPI, clock: Clock) -> None:
        self.market = market
        self.account = account
        self.clock = clock

    async def resolve(self, text: str) -> str:
        return await self.market.resolve_symbol(text)

    def _steps(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        m = self.market.markets.get(symbol)
        return (m.tick_size, m.step_size) if m is not None else (None, None)

    def tick(self, symbol: str) -> Decimal | None:
        """The market's price tick once its markets are loaded (prices are shown to it)."""
        return self._steps(symbol)[0]

    async def prices(self, texts: list[str]) -> list[PriceView]:
        symbols = [await self.resolve(t) for t in texts]
        return list(await asyncio.gather(*(self._price(s) for s in symbols)))

    async def _price(self, symbol: str) -> PriceView:
        ticker, book = await asyncio.gather(
            self.market.get_ticker(symbol), self.market.get_orderbook(symbol, limit=5)
        )
        mark = index = None
        if symbol.endswith("_PERP"):
            rows = await self.market.get_mark_prices(symbol)
            if rows:
                mark, index = rows[0].get("markPrice"), rows[0].get("indexPrice")
        return PriceView(
            symbol=symbol,
            last=ticker["lastPrice"],
            mark=mark,
            index=index,
            change_24h=ticker.get("priceChangePercent") or Decimal(0),
            high=ticker["high"],
            low=ticker["low"],
            best_bid=book["bids"][0][0] if book["bids"] else None,
            best_ask=book["asks"][0][0] if book["asks"] else None,
            tick=self._steps(symbol)[0],
        )

    async def funding(self, text: str | None, top: int = 10) -> list[FundingView]:
        """One perp's funding, or the top ``top`` perps by |rate|."""
        if text is not None:
            symbol = await self.resolve(text)
            if not symbol.endswith("_PERP"):
                raise InvalidSymbol(
                    f"{symbol} is a spot market; funding exists only on perps (e.g. "
                    f"{symbol.split('_')[0]})",
                    code="INVALID_SYMBOL",
                )
            rows = await self.market.get_mark_prices(symbol)
        else:
            rows = await self.market.get_mark_prices()
            rows.sort(key=lambda r: abs(r.get("fundingRate") or Decimal(0)), reverse=True)
            rows = rows[:top]
        await self.market.load_markets()
        positions: dict[str, Decimal] = {}
        if self.account.has_keys:
            try:
                positions = {p["symbol"]: p["quantity"] for p in await self.account.get_positions()}
            except Exception:  # positions are a nicety here; funding still shows
                positions = {}
        out = []
        for r in rows:
            sym = r["symbol"]
            m = self.market.markets.get(sym)
            hours = (
                Decimal(m.funding_interval_ms if m and m.funding_interval_ms else 3_600_000)
                / 3_600_000
            )
            rate: Decimal = r["fundingRate"]
            qty = positions.get(sym)
            out.append(
                FundingView(
                    symbol=sym,
                    rate=rate,
                    interval_hours=hours,
                    apr=apr(rate, hours),
                    next_funding=datetime.fromtimestamp(
                        r["nextFundingTimestamp"] / 1000, tz=self.clock.now().tzinfo
                    ),
                    mark=r["markPrice"],
                    position_qty=qty,
                    expected_payment=funding_payment(rate, qty, r["markPrice"]) if qty else None,
                )
            )
        return out

    async def book(self, text: str, levels: int = 10) -> BookView:
        symbol = await self.resolve(text)
        ob = await self.market.get_orderbook(symbol, limit=levels)
        bids = [(p, q) for p, q in ob["bids"]]
        asks = [(p, q) for p, q in ob["asks"]]
        mid = spread = None
        if bids and asks:
            mid = (bids[0][0] + asks[0][0]) / 2
            spread = asks[0][0] - bids[0][0]
        tick, step = self._steps(symbol)
        return BookView(
            tick=tick,
            step=step,
            symbol=symbol,
            bids=bids,
            asks=asks,
            mid=mid,
            spread=spread,
            bid_depth_usd=sum((p * q for p, q in bids), Decimal(0)),
            ask_depth_usd=sum((p * q for p, q in asks), Decimal(0)),
        )
