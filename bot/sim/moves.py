"""Prices and public market data: the random walk, control moves, mirrored books, endpoints."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.book import Market
from bot.sim.markets import MarketSpec, asset_rows, fmt, fmt_once, stream_names
from bot.sim.model import (
    HISTORY_HOURS,
    HOUR,
    ZERO,
    Candle,
    D,
    bad_request,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange

MOVE_PROBABILITY = 0.35


class MarketMoves:
    """Prices and public market data: the random walk, control moves, mirrored books, endpoints."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def load_markets(
        self, rows: list[dict[str, Any]], prices: dict[str, Decimal] | None = None
    ) -> None:
        """Replace the market list with real ``/api/v1/markets`` rows (paper trading).

        Only SPOT and PERP rows are kept. A market's starting price comes from ``prices``, else
        from the market of the same symbol already here, else from the row's ``minPrice`` x 1000
        (a placeholder until :meth:`mirror` sets the real book). Markets that already exist keep
        their state (books, resting orders); markets absent from ``rows`` are dropped.
        """
        prices = prices or {}
        specs: list[MarketSpec] = []
        for r in rows:
            if r.get("marketType") not in ("SPOT", "PERP"):
                continue
            sym = r["symbol"]
            price = prices.get(sym)
            if price is None and sym in self.ex.markets:
                price = self.ex.markets[sym].mid
            if price is None:
                tick = D(r["filters"]["price"]["tickSize"])
                price = max(tick, D(r["filters"]["price"].get("minPrice") or tick)) * 1000
            specs.append(MarketSpec.from_wire(r, price))
        self.ex.specs = specs
        now = self.ex.clock.time()
        old = self.ex.markets
        self.ex.markets = {}
        for spec in specs:
            if spec.symbol in old and old[spec.symbol].spec == spec:
                self.ex.markets[spec.symbol] = old[spec.symbol]
            elif spec.symbol in old:
                kept = old[spec.symbol]
                kept.spec = spec
                self.ex.markets[spec.symbol] = kept
            else:
                self.ex.history.add_market(spec, now)

    def step(self) -> None:
        """One random-walk tick for every market: move, rebuild, fill crossed orders, trade."""
        ex = self.ex
        streams = ex.streams
        sigma = ex.volatility / math.sqrt(MOVE_PROBABILITY)
        for m in ex.markets.values():
            rng = m.rng
            # Like a real book, most updates resize a level; the mid moves on ~1 tick in 3
            # (volatility scaled so the variance per second is unchanged).
            mid = new_mid = m.mid
            if rng.random() < MOVE_PROBABILITY:
                shock = rng.gauss(0, sigma)
                new_mid = quantize_to(mid * D(str(math.exp(shock))), m.spec.tick, ROUND_HALF_UP)
            if new_mid != mid:
                self._shift_to(m, max(m.spec.tick, new_mid))
            else:
                # Price unchanged at tick resolution: the maker still requotes a level.
                changed = m.jiggle()
                if changed is not None and not m.resting:
                    is_ask, price = changed
                    level = [(price, (m.asks if is_ask else m.bids)[price])]
                    streams.publish_changes(m, (level, []) if is_ask else ([], level))
                elif changed is not None:
                    streams.publish_book(m)
            if rng.random() < 0.5:
                self.public_trade(m)
            if m.triggers:
                ex.conditional.check_triggers(m)
        self.roll_candles()
        ex.funding.maybe_settle()

    def _move(self, m: Market, new_mid: Decimal) -> None:
        tick = m.spec.tick
        self._shift_to(m, max(tick, quantize_to(new_mid, tick, ROUND_HALF_UP)))

    def _shift_to(self, m: Market, mid: Decimal) -> None:
        """Set the mid (on the tick already), move the ladder and publish what changed."""
        m.mid = m.index = m.mark = mid
        changes = m.shift()
        if changes is not None and not m.resting:
            self.ex.streams.publish_changes(m, changes)
            return
        self.ex.matching.fill_crossed(m)
        self.ex.streams.publish_book(m)

    def public_trade(
        self,
        m: Market,
        *,
        price: Decimal | None = None,
        qty: Decimal | None = None,
        buyer_maker: bool | None = None,
        buyer: str = "",
        seller: str = "",
    ) -> None:
        if price is None:
            ba, bb = m.published_best()
            taker_buy = m.rng.random() < 0.5
            price = (ba if taker_buy else bb) or m.mid
            buyer_maker = not taker_buy
        if qty is None:
            step = m.spec.step
            notional = D(str(round(m.rng.uniform(50, 5000), 2)))
            qty = max(step, quantize_to(notional / price, step))
        ex = self.ex
        now = ex.clock.time()
        tid = m.trade_id
        price_text, qty_text = fmt(price), fmt_once(qty)
        m.trades.append(
            {
                "id": tid,
                "price": price_text,
                "quantity": qty_text,
                "quoteQuantity": fmt_once(price * qty),
                "timestamp": int(now * 1000),
                "isBuyerMaker": bool(buyer_maker),
            }
        )
        m.last = price
        m.candles[-1].update(price, qty)
        m.trade_id += 1
        stream = stream_names(m.spec.symbol).trade
        if not ex.wanted(stream):
            return
        now_us = int(now * 1_000_000)
        ex.emit(
            stream,
            None,
            {
                "e": "trade",
                "E": now_us,
                "s": m.spec.symbol,
                "p": price_text,
                "q": qty_text,
                # Synthetic counterparties get stable made-up order ids (no RNG: the walk must
                # not depend on who is subscribed).
                "b": buyer or str(7_000_000_000 + tid * 2),
                "a": seller or str(7_000_000_001 + tid * 2),
                "t": tid,
                "T": now_us,
                "m": bool(buyer_maker),
            },
        )

    def roll_candles(self) -> None:
        hour = int(self.ex.clock.time() // HOUR) * HOUR
        for m in self.ex.markets.values():
            if m.candles[-1].start < hour:
                p = m.last
                m.candles.append(Candle(hour, p, p, p, p))
                if len(m.candles) > HISTORY_HOURS + 48:
                    del m.candles[0]

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Control API: set last/mark/index, recenter the book, emit streams."""
        m = self.ex.market(symbol)
        m.index = m.mark = price
        self._move(m, price)
        m.last = m.mid
        m.candles[-1].update(m.mid)
        self.public_trade(m, price=m.mid, qty=m.spec.min_qty, buyer_maker=False)
        self.ex.streams.publish_periodic_for(m)
        self.ex.conditional.check_triggers(m)
        self.ex.markets_moved = True

    def set_funding(self, symbol: str, rate: Decimal) -> None:
        """Control API: set the current (estimated) funding rate of a perp."""
        m = self.ex.market(symbol)
        if not m.spec.is_perp:
            raise bad_request("Symbol not found")
        m.funding_rate = rate
        self.ex.streams.publish_periodic_for(m)
        self.ex.markets_moved = True

    def mirror(
        self,
        symbol: str,
        *,
        bids: Iterable[tuple[Decimal, Decimal]] | None = None,
        asks: Iterable[tuple[Decimal, Decimal]] | None = None,
        last: Decimal | None = None,
        mark: Decimal | None = None,
        index: Decimal | None = None,
        funding_rate: Decimal | None = None,
    ) -> None:
        """Copy a market's state from an external source (paper trading on real data)."""
        m = self.ex.market(symbol)
        if bids is not None and asks is not None:
            m.bids = {p: q for p, q in bids if q > 0}
            m.asks = {p: q for p, q in asks if q > 0}
            if m.bids and m.asks:
                m.mid = (max(m.bids) + min(m.asks)) / 2
            self.ex.matching.fill_crossed(m)
            self.ex.streams.publish_book(m)
        if last is not None:
            m.last = last
            m.candles[-1].update(last)
        if mark is not None:
            m.mark = mark
        if index is not None:
            m.index = index
        if funding_rate is not None:
            m.funding_rate = funding_rate
        self.ex.conditional.check_triggers(m)

    def markets_wire(self) -> list[dict[str, Any]]:
        ms = self.ex.funding_interval * 1000
        return [m.spec.to_wire(ms) for m in self.ex.markets.values()]

    def assets(self) -> list[dict[str, Any]]:
        return asset_rows(self.ex.specs)

    def ticker(self, symbol: str) -> dict[str, Any]:
        m = self.ex.market(symbol)
        day = m.candles[-24:]
        first = day[0].open
        high = max(c.high for c in day)
        low = min(c.low for c in day)
        vol = sum((c.volume for c in day), ZERO)
        qvol = sum((c.quote_volume for c in day), ZERO)
        trades = sum(c.trades for c in day)
        change = m.last - first
        return {
            "symbol": symbol,
            "firstPrice": fmt(first),
            "lastPrice": fmt(m.last),
            "priceChange": fmt(change),
            "priceChangePercent": fmt((change / first).quantize(D("0.000001"))),
            "high": fmt(max(high, m.last)),
            "low": fmt(min(low, m.last)),
            "volume": fmt(vol.quantize(m.spec.step)),
            "quoteVolume": fmt(qvol.quantize(D("0.000001"))),
            "trades": str(trades),
        }

    def depth(self, symbol: str, limit: int = 1000) -> dict[str, Any]:
        m = self.ex.market(symbol)
        asks, bids = m.published
        a = sorted(asks.items())[:limit]
        b = sorted(bids.items())[-limit:]
        return {
            "asks": [[fmt(p), fmt(q)] for p, q in a],
            "bids": [[fmt(p), fmt(q)] for p, q in b],
            "lastUpdateId": str(m.update_id),
            "timestamp": self.ex.now_us(),
        }

    def trades(self, symbol: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Recent public trades, newest first (``offset`` skips the newest)."""
        m = self.ex.market(symbol)
        rows = list(m.trades)
        rows.reverse()
        return rows[offset : offset + limit]

    def mark_prices(self, symbol: str | None = None) -> list[dict[str, Any]]:
        if symbol is not None:
            m = self.ex.markets.get(symbol)
            if m is None:
                raise bad_request("Symbol not found")
            ms = [m]
        else:
            ms = [m for m in self.ex.markets.values() if m.spec.is_perp]
        out = []
        for m in ms:
            row: dict[str, Any] = {"symbol": m.spec.symbol, "markPrice": fmt(m.mark)}
            if m.spec.is_perp:
                row["indexPrice"] = fmt(m.index)
                row["fundingRate"] = fmt(m.funding_rate)
                row["nextFundingTimestamp"] = int(self.ex.next_funding * 1000)
            out.append(row)
        return out

    def open_interest(self, symbol: str | None) -> list[dict[str, Any]]:
        ms = (
            [self.ex.market(symbol)]
            if symbol
            else [m for m in self.ex.markets.values() if m.spec.is_perp]
        )
        now = self.ex.now_ms()
        return [
            {"symbol": m.spec.symbol, "openInterest": fmt(m.open_interest), "timestamp": now}
            for m in ms
        ]
