"""Stream payloads: every WebSocket event the engine emits, public and private."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.book import Changes, Market, diff
from bot.sim.history import INTERVALS
from bot.sim.markets import fmt, stream_names
from bot.sim.model import (
    BPS,
    FEES,
    MMF,
    ZERO,
    Account,
    Candle,
    D,
    Order,
    Position,
    iso,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Streams:
    """Stream payloads: every WebSocket event the engine emits, public and private."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def publish_book(self, m: Market) -> None:
        """Diff the aggregated book against the last published one; emit depth + bookTicker."""
        asks, bids = m.aggregated()
        old_asks, old_bids = m.published
        da = diff(old_asks, asks)
        db = diff(old_bids, bids)
        m.published = (asks, bids)
        if not da and not db:
            return
        m.update_id += 1
        sym = m.spec.symbol
        depth_stream, ticker_stream = f"depth.{sym}", f"bookTicker.{sym}"
        want_depth, want_ticker = self.ex.wanted(depth_stream), self.ex.wanted(ticker_stream)
        if not want_depth and not want_ticker:
            return
        now = self.ex.now_us()
        if want_depth:
            self._emit_depth(depth_stream, sym, now, m.update_id, (da, db))
        if want_ticker and asks and bids:
            ba, bb = min(asks), max(bids)
            self.ex.emit(
                ticker_stream,
                None,
                {
                    "e": "bookTicker",
                    "E": now,
                    "s": sym,
                    "a": fmt(ba),
                    "A": fmt(asks[ba]),
                    "b": fmt(bb),
                    "B": fmt(bids[bb]),
                    "u": m.update_id,  # a number, as live frames carry it (the spec: string)
                    "T": now,
                },
            )

    def publish_changes(self, m: Market, changes: Changes, *, every_ticker: bool = False) -> None:
        """Fast path of :meth:`publish_book` when the changed synthetic levels are known.

        Only valid while no user order rests in ``m`` (then the synthetic book *is* the
        aggregated book); saves diffing every level on every tick. Runs for every tick of the
        random walk, hence written for speed. The walk skips the bookTicker frame when one
        level other than the best changed; ``every_ticker`` sends it for any change, as
        :meth:`publish_book` does (a fill: the frames stay what they were).
        """
        da, db = changes
        pub_asks, pub_bids = m.published
        if da:
            da = [(p, q) for p, q in da if pub_asks.get(p, ZERO) != q]
        if db:
            db = [(p, q) for p, q in db if pub_bids.get(p, ZERO) != q]
        if not da and not db:
            return
        # The best prices follow the changed levels; a full scan only when the best one left.
        ba, bb = m.published_best()
        rescan_a = rescan_b = False
        for p, q in da:
            if q:
                pub_asks[p] = q
                if ba is None or p < ba:
                    ba = p
            else:
                del pub_asks[p]  # listed as changed: it was published
                rescan_a = rescan_a or p == ba
        for p, q in db:
            if q:
                pub_bids[p] = q
                if bb is None or p > bb:
                    bb = p
            else:
                del pub_bids[p]
                rescan_b = rescan_b or p == bb
        if rescan_a:
            ba = min(pub_asks) if pub_asks else None
        if rescan_b:
            bb = max(pub_bids) if pub_bids else None
        m.best_cache = (pub_asks, pub_bids, ba, bb)
        m.update_id += 1
        ex = self.ex
        names = stream_names(m.spec.symbol)
        now = ex.now_us()
        if ex.wanted(names.depth):
            self._emit_depth(names.depth, m.spec.symbol, now, m.update_id, (da, db))
        if ba is None or bb is None or not ex.wanted(names.book_ticker):
            return
        if (
            not every_ticker
            and len(da) + len(db) == 1
            and (da[0][0] != ba if da else db[0][0] != bb)
        ):
            return  # one level changed, not the best one: the top of the book is as it was
        ex.emit(
            names.book_ticker,
            None,
            {
                "e": "bookTicker",
                "E": now,
                "s": m.spec.symbol,
                "a": fmt(ba),
                "A": fmt(pub_asks[ba]),
                "b": fmt(bb),
                "B": fmt(pub_bids[bb]),
                "u": m.update_id,
                "T": now,
            },
        )

    def _emit_depth(
        self,
        stream: str,
        sym: str,
        now: int,
        update_id: int,
        changes: tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]],
    ) -> None:
        da, db = changes
        self.ex.emit(
            stream,
            None,
            {
                "e": "depth",
                "E": now,
                "s": sym,
                "a": [[fmt(p), fmt(q)] for p, q in (sorted(da) if len(da) > 1 else da)],
                "b": [[fmt(p), fmt(q)] for p, q in (sorted(db) if len(db) > 1 else db)],
                "U": update_id,
                "u": update_id,
                "T": now,
            },
        )

    def publish_periodic(self) -> None:
        """markPrice, ticker, kline (every call: the server's second) and openInterest (60 s)."""
        now = self.ex.now_us()
        for sym, m in self.ex.markets.items():
            self.publish_periodic_for(m)
            if m.spec.is_perp and now - m.oi_published_us >= self.ex.open_interest_interval * 1e6:
                m.oi_published_us = now
                if self.ex.wanted(f"openInterest.{sym}"):
                    self.ex.emit(
                        f"openInterest.{sym}",
                        None,
                        {"e": "openInterest", "E": now, "s": sym, "o": fmt(m.open_interest)},
                    )
            if self.ex.wanted(f"ticker.{sym}"):
                self._emit_ticker(sym, now)
            for interval, secs in INTERVALS.items():
                stream = f"kline.{interval}.{sym}"
                if self.ex.wanted(stream):
                    self._emit_kline(m, stream, secs, now)

    def _emit_ticker(self, sym: str, now: int) -> None:
        t = self.ex.moves.ticker(sym)
        self.ex.emit(
            f"ticker.{sym}",
            None,
            {
                "e": "ticker",
                "E": now,
                "s": sym,
                "o": t["firstPrice"],
                "c": t["lastPrice"],
                "h": t["high"],
                "l": t["low"],
                "v": t["volume"],
                "V": t["quoteVolume"],
                "n": int(t["trades"]),
            },
        )

    def _emit_kline(self, m: Market, stream: str, secs: int, now: int) -> None:
        start = int(self.ex.clock.time()) // secs * secs
        prev = m.kline_starts.get(stream)
        if prev is not None and prev < start:
            # The interval rolled over: close the previous candle once with X=true.
            self._send_kline(
                m, stream, self.ex.history.live_candle(m, prev, secs), secs, now, closed=True
            )
        m.kline_starts[stream] = start
        self._send_kline(
            m, stream, self.ex.history.live_candle(m, start, secs), secs, now, closed=False
        )

    def _send_kline(
        self, m: Market, stream: str, c: Candle, secs: int, now: int, *, closed: bool
    ) -> None:
        self.ex.emit(
            stream,
            None,
            {
                "e": "kline",
                "E": now,
                "s": m.spec.symbol,
                "t": iso(c.start, ms=False),
                "T": iso(c.start + secs, ms=False),
                "o": fmt(c.open),
                "c": fmt(c.close),
                "h": fmt(c.high),
                "l": fmt(c.low),
                "v": fmt(c.volume),
                "n": c.trades,
                "X": closed,
            },
        )

    def publish_periodic_for(self, m: Market) -> None:
        """One ``markPrice`` event for a perp (sent every second and on every price set)."""
        if m.spec.is_perp and self.ex.wanted(f"markPrice.{m.spec.symbol}"):
            now = self.ex.now_us()
            self.ex.emit(
                f"markPrice.{m.spec.symbol}",
                None,
                {
                    "e": "markPrice",
                    "E": now,
                    "s": m.spec.symbol,
                    "p": fmt(m.mark),
                    "f": fmt(m.funding_rate),
                    "i": fmt(m.index),
                    "n": int(self.ex.next_funding * 1000),
                    "T": now,
                },
            )

    def publish_balances(self) -> None:
        """``account.balanceUpdate``: one frame per asset whose balance changed.

        Not in the AsyncAPI document; the payload is what ccxt pro's ``watch_balance`` reads
        (``a`` asset, ``A`` available, ``L`` locked, ``S`` staked, ``E``/``T`` in µs).
        """
        dirty = list(self.ex.balance_dirty)
        self.ex.balance_dirty.clear()
        for key in dirty:
            acc = self.ex.accounts.get(key)
            if acc is None:
                continue
            for asset, (avail, locked) in acc.balances.items():
                if acc.published_balances.get(asset) == (avail, locked):
                    continue
                acc.published_balances[asset] = (avail, locked)
                if not self.ex.wanted("account.balanceUpdate"):
                    continue
                now = self.ex.now_us()
                self.ex.emit(
                    "account.balanceUpdate",
                    key,
                    {
                        "e": "balanceUpdate",
                        "E": now,
                        "a": asset,
                        "A": fmt(avail),
                        "L": fmt(locked),
                        "S": "0",
                        "T": now,
                    },
                )

    def order_event(
        self,
        o: Order,
        event: str,
        *,
        fill: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.ex.touched_orders[o.id] = o
        self.ex.touch(o.account)
        streams = ("account.orderUpdate", f"account.orderUpdate.{o.symbol}")
        if not (self.ex.wanted(streams[0]) or self.ex.wanted(streams[1])):
            return
        now = self.ex.now_us()
        data: dict[str, Any] = {
            "e": event,
            "E": now,
            "s": o.symbol,
            "i": o.id,
            "S": o.side,
            "o": o.order_type.upper(),
            "f": o.tif,
            "X": o.status,
            "z": fmt(o.executed),
            "Z": fmt(o.executed_quote),
            "r": o.reduce_only,
            "O": "USER",
            "V": o.stp,
            "T": now,
            "t": None,
        }
        if o.client_id is not None:
            data["c"] = o.client_id
        qty = self._frame_quantity(o)
        if qty is not None:
            data["q"] = fmt(qty)
        quote = o.quote_wire()
        if quote is None and qty is not None and o.price is not None:
            quote = qty * o.price
        tq = o.trigger_quantity
        if quote is None and o.pending and tq and not tq.endswith("%") and o.trigger_price:
            quote = D(tq) * (o.price or o.trigger_price)  # what it would cost when it fires
        if quote is not None:
            data["Q"] = fmt(quote)
        if o.price is not None:
            data["p"] = fmt(o.price)
            data["y"] = o.post_only
        if o.trigger_price is not None:
            data["P"] = fmt(o.trigger_price)
            data["B"] = o.trigger_by
            data["Y"] = o.trigger_quantity
        for bracket, price, limit, by in (
            (o.take_profit, "a", "j", "d"),
            (o.stop_loss, "b", "k", "g"),
        ):
            if bracket is not None:
                data[price] = fmt(bracket.trigger_price)
                data[by] = bracket.trigger_by
                if bracket.limit_price is not None:
                    data[limit] = fmt(bracket.limit_price)
        if o.related_order_id is not None:
            data["I"] = o.related_order_id
        if fill:
            data.update(fill)
        if extra:
            data.update(extra)
        for stream in streams:
            self.ex.emit(stream, o.account, data)

    def _frame_quantity(self, o: Order) -> Decimal | None:
        """``q`` of an order frame: the quantity, or for a quote-quantity order an estimate."""
        if o.pending:
            return None
        if o.quantity is not None:
            return o.quantity
        if o.quote_quantity is None:
            return None
        m = self.ex.markets[o.symbol]
        return quantize_to(o.quote_quantity / m.mid, m.spec.step) if m.mid else None

    def position_event_payload(
        self, acc: Account, p: Position, event: str | None
    ) -> dict[str, Any]:
        m = self.ex.markets[p.symbol]
        now = self.ex.now_us()
        fee_bps = D(FEES["futuresTakerFee"]) * BPS
        be = p.entry * (1 + fee_bps) if p.qty >= 0 else p.entry * (1 - fee_bps)
        data: dict[str, Any] = {
            "E": now,
            "s": p.symbol,
            # Decimal strings, as live frames carry them (the AsyncAPI document: numbers).
            "b": fmt(be.quantize(m.spec.tick)),
            "B": fmt(p.entry),
            "f": fmt(D(m.spec.imf_base)),
            "m": fmt(MMF),
            "M": fmt(m.mark),
            "q": fmt(p.qty),
            "Q": fmt(abs(p.qty)),
            "n": fmt(abs(p.qty) * m.mark),
            "i": p.position_id,
            "p": fmt(p.realized),
            "P": fmt(p.qty * (m.mark - p.entry)),
            "l": fmt(self.ex.margin.liq_price(acc, p)),
            "T": now,
        }
        if event:
            data["e"] = event
        return data

    def position_event(self, acc: Account, p: Position, event: str) -> None:
        self.ex.touch(acc.key)
        streams = ("account.positionUpdate", f"account.positionUpdate.{p.symbol}")
        if not (self.ex.wanted(streams[0]) or self.ex.wanted(streams[1])):
            return
        data = self.position_event_payload(acc, p, event)
        for stream in streams:
            self.ex.emit(stream, acc.key, data)

    def position_snapshot(self, key: str, symbol: str | None) -> list[dict[str, Any]]:
        """The messages a fresh position subscription starts with (no ``e``)."""
        acc = self.ex.accounts.get(key)
        if acc is None:
            return []
        return [
            self.position_event_payload(acc, p, None)
            for s, p in acc.positions.items()
            if p.qty and (symbol is None or s == symbol)
        ]
