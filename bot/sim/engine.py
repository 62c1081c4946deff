"""The simulator's engine: markets, order books, accounts, matching and funding. No I/O.

Everything here returns wire-shaped dicts (decimals as strings, the exchange's field names and time
units) so the HTTP/WS layer stays a thin router. Events for the WebSocket are pushed to listeners
as ``(stream, account_key | None, data)``; ``account_key`` is set for private streams.
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.clock import Clock, SystemClock
from bot.sim.markets import MarketSpec, asset_rows, default_markets, fmt

D = Decimal
ZERO = D(0)
HOUR = 3600
HISTORY_HOURS = 24 * 35
LEVELS = 30
LEVERAGE = D(10)
FEES = {"futuresMakerFee": "2", "futuresTakerFee": "5", "spotMakerFee": "8", "spotTakerFee": "10"}
BPS = D("0.0001")
MMF = D("0.0125")
DEFAULT_BALANCE = D(100000)
MOVE_PROBABILITY = 0.35

Changes = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]
"""Changed ``(price, quantity)`` levels of a book, asks then bids; quantity 0 removes a level."""
Listener = Callable[[str, str | None, dict[str, Any]], None]
"""``(stream, account_key | None, data)``; ``account_key`` is set on private streams."""
Wants = Callable[[str], bool]
"""Whether a listener cares about a stream; payloads nobody wants are never built."""


class SimError(Exception):
    """An exchange error: JSON ``{"code","message"}`` unless ``plain`` (framework text error)."""

    def __init__(self, status: int, code: str, message: str, *, plain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.plain = plain


def bad_request(message: str, code: str = "INVALID_CLIENT_REQUEST") -> SimError:
    return SimError(400, code, message)


def parse_error(what: str, detail: str) -> SimError:
    return SimError(
        400, "", f"failed to parse parameter `{what}`: failed to parse {detail}", plain=True
    )


def iso(ts: float, *, ms: bool = True) -> str:
    """Naive UTC ISO time as the history endpoints print it."""
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] if ms else text[:-7]


def dec(value: Any, name: str) -> Decimal:
    """Parse a request decimal; strings and numbers both accepted, garbage rejected."""
    try:
        out = D(str(value))
    except (InvalidOperation, ValueError):
        raise bad_request(f"Invalid {name}") from None
    if not out.is_finite():
        raise bad_request(f"Invalid {name}")
    return out


def quantize_to(value: Decimal, step: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass
class Candle:
    start: int  # seconds
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0

    def update(self, price: Decimal, qty: Decimal = ZERO) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        if qty:
            self.volume += qty
            self.quote_volume += qty * price
            self.trades += 1


@dataclass
class Order:
    """A user order; ``to_wire`` renders the REST order object."""

    id: str
    account: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal | None
    price: Decimal | None
    quote_quantity: Decimal | None
    client_id: int | None
    tif: str
    post_only: bool
    reduce_only: bool
    stp: str
    created_ms: int
    status: str = "New"
    executed: Decimal = ZERO
    executed_quote: Decimal = ZERO
    expiry_reason: str | None = None
    locked_asset: str | None = None
    locked: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return (self.quantity or ZERO) - self.executed

    def to_wire(self, *, history: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "clientId": self.client_id,
            "symbol": self.symbol,
            "side": self.side,
            "orderType": self.order_type,
            "quantity": fmt(self.quantity) if self.quantity is not None else None,
            "executedQuantity": fmt(self.executed),
            "executedQuoteQuantity": fmt(self.executed_quote),
            "selfTradePrevention": self.stp,
            "status": self.status,
            "timeInForce": self.tif,
            "createdAt": iso(self.created_ms / 1000) if history else self.created_ms,
            "strategyId": None,
            "triggerBy": None,
            "triggerPrice": None,
            "triggerQuantity": None,
            "stopLossLimitPrice": None,
            "stopLossTriggerBy": None,
            "stopLossTriggerPrice": None,
            "takeProfitLimitPrice": None,
            "takeProfitTriggerBy": None,
            "takeProfitTriggerPrice": None,
        }
        if self.order_type == "Limit":
            out["price"] = fmt(self.price or ZERO)
            out["postOnly"] = self.post_only
        else:
            out["quoteQuantity"] = (
                fmt(self.quote_quantity) if self.quote_quantity is not None else None
            )
            out["slippageTolerance"] = None
            out["slippageToleranceType"] = None
        if history:
            out["expiryReason"] = self.expiry_reason
            out["systemOrderType"] = None
        else:
            out["reduceOnly"] = self.reduce_only
            out["relatedOrderId"] = None
            out["triggeredAt"] = None
        return out

    def to_state(self) -> dict[str, Any]:
        wire = self.to_wire()
        wire["reduceOnly"] = self.reduce_only
        return wire


@dataclass
class Position:
    symbol: str
    position_id: str
    qty: Decimal = ZERO
    entry: Decimal = ZERO
    realized: Decimal = ZERO
    funding: Decimal = ZERO
    fees: Decimal = ZERO


@dataclass
class Account:
    key: str
    user_id: int
    balances: dict[str, list[Decimal]] = field(default_factory=dict)  # asset -> [avail, locked]
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # every order ever, by id
    open: dict[str, Order] = field(default_factory=dict)  # resting orders only (hot path)
    fills: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    persisted_fills: int = 0  # rows of ``fills``/``funding`` already in the journal
    persisted_funding: int = 0

    def bal(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [ZERO, ZERO])


@dataclass
class Market:
    """Live state of one market."""

    spec: MarketSpec
    mid: Decimal
    last: Decimal
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    rng: random.Random
    asks: dict[Decimal, Decimal] = field(default_factory=dict)  # synthetic liquidity
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    resting: list[Order] = field(default_factory=list)
    update_id: int = 1_000_000
    published: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] = field(
        default_factory=lambda: ({}, {})
    )
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    trade_id: int = 1
    candles: list[Candle] = field(default_factory=list)
    funding_history: list[tuple[int, Decimal]] = field(default_factory=list)
    open_interest: Decimal = ZERO
    profile_mid: Decimal = ZERO
    gap: Decimal = ZERO
    unit: Decimal = ZERO
    salt: int = 0
    sizes: dict[int, Decimal] = field(default_factory=dict)
    bid_index: int = 0
    kline_starts: dict[str, int] = field(default_factory=dict)

    def _make_profile(self) -> None:
        """Fix the ladder's price grid (about 1 bp apart) and base level size for this price.

        Redone only after a ~20 % move, so between those a price move shifts the ladder by
        whole grid steps: levels that stay keep their size and the depth delta holds just the
        levels that appeared or vanished, as on a real book.
        """
        spec = self.spec
        self.gap = max(spec.tick, quantize_to(self.mid * D("0.0001"), spec.tick))
        notional = D(15000) if spec.base in ("BTC", "ETH") else D(6000)
        self.unit = max(spec.step, quantize_to(notional / self.mid, spec.step))
        self.profile_mid = self.mid
        self.sizes = {}

    def size_at(self, index: int) -> Decimal:
        """The synthetic maker's size at grid index ``index``: deterministic, 0.5-3 units."""
        size = self.sizes.get(index)
        if size is None:
            h = (index * 2654435761 + self.salt) % 4_294_967_291
            factor = D(50 + h % 251) / 100
            size = max(self.spec.step, quantize_to(self.unit * factor, self.spec.step))
            self.sizes[index] = size
        return size

    def rebuild(self) -> None:
        """Re-place the synthetic market-maker ladder (``LEVELS`` a side) around ``mid``."""
        if self.profile_mid == 0 or not (
            self.profile_mid * D("0.8") < self.mid < self.profile_mid * D("1.2")
        ):
            self._make_profile()
        gap = self.gap
        bid_index = int((self.mid / gap).to_integral_value(rounding=ROUND_DOWN))
        if bid_index * gap >= self.mid:
            bid_index -= 1
        self.bid_index = bid_index
        old_asks, old_bids = self.asks, self.bids
        asks: dict[Decimal, Decimal] = {}
        bids: dict[Decimal, Decimal] = {}
        for i in range(LEVELS):
            ia, ib = bid_index + 1 + i, bid_index - i
            pa = gap * ia
            asks[pa] = old_asks.get(pa) or self.size_at(ia)
            if ib > 0:
                pb = gap * ib
                bids[pb] = old_bids.get(pb) or self.size_at(ib)
        self.asks = asks
        self.bids = bids

    def _grid_index(self) -> int:
        index = int((self.mid / self.gap).to_integral_value(rounding=ROUND_DOWN))
        return index - 1 if index * self.gap >= self.mid else index

    def shift(self) -> Changes | None:
        """Move the ladder to ``mid`` by whole grid steps and return only the changed levels.

        ``None`` means the ladder had to be rebuilt from scratch (first build, a big jump or a
        new price grid); the caller then diffs the whole book.
        """
        if (
            not self.gap
            or not (self.profile_mid * D("0.8") < self.mid < self.profile_mid * D("1.2"))
            or not (self.asks or self.bids)
        ):
            self.rebuild()
            return None
        new = self._grid_index()
        old = self.bid_index
        if abs(new - old) >= LEVELS:
            self.rebuild()
            return None
        da: list[tuple[Decimal, Decimal]] = []
        db: list[tuple[Decimal, Decimal]] = []
        if new == old:
            return da, db
        self.bid_index = new
        gap = self.gap
        for i in range(old + 1, old + LEVELS + 1):  # asks that fell out of range
            if not new < i <= new + LEVELS:
                p = gap * i
                if self.asks.pop(p, None) is not None:
                    da.append((p, ZERO))
        for i in range(new + 1, new + LEVELS + 1):  # asks that came into range
            if not old < i <= old + LEVELS:
                p = gap * i
                self.asks[p] = q = self.size_at(i)
                da.append((p, q))
        for i in range(old - LEVELS + 1, old + 1):
            if not new - LEVELS < i <= new and i > 0:
                p = gap * i
                if self.bids.pop(p, None) is not None:
                    db.append((p, ZERO))
        for i in range(new - LEVELS + 1, new + 1):
            if not old - LEVELS < i <= old and i > 0:
                p = gap * i
                self.bids[p] = q = self.size_at(i)
                db.append((p, q))
        return da, db

    def jiggle(self) -> tuple[bool, Decimal] | None:
        """Resize one random level near the top (most real depth updates touch one level).

        Returns ``(is_ask, price)`` of the level changed.
        """
        is_ask = self.rng.random() < 0.5
        book = self.asks if is_ask else self.bids
        if not book or not self.gap:
            return None
        i = int(self.rng.random() * 8)
        index = self.bid_index + 1 + i if is_ask else self.bid_index - i
        price = self.gap * index
        if price not in book:
            if index <= 0:
                return None
            # A level a taker ate is requoted: the synthetic maker replenishes.
            book[price] = self.size_at(index)
            return is_ask, price
        step = self.spec.step
        factor = D(str(round(0.7 + self.rng.random() * 0.6, 3)))
        book[price] = max(step, quantize_to(book[price] * factor, step))
        return is_ask, price

    def aggregated(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        asks = dict(self.asks)
        bids = dict(self.bids)
        for o in self.resting:
            side = bids if o.side == "Bid" else asks
            assert o.price is not None
            side[o.price] = side.get(o.price, ZERO) + o.remaining
        return asks, bids

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        asks, bids = self.aggregated()
        return (max(bids) if bids else None), (min(asks) if asks else None)


class Engine:
    """A whole exchange in memory, deterministic for a seed."""

    def __init__(
        self,
        *,
        seed: int = 1,
        balance: Decimal = DEFAULT_BALANCE,
        funding_interval: int = HOUR,
        clock: Clock | None = None,
        markets: list[MarketSpec] | None = None,
        volatility: float = 0.0001,
    ) -> None:
        self.seed = seed
        self.initial_balance = D(balance)
        self.funding_interval = funding_interval
        self.clock: Clock = clock or SystemClock()
        self.volatility = volatility
        self._listeners: list[tuple[Listener, Wants | None]] = []
        self._specs = markets or default_markets()
        self.on_account_change: Callable[[], None] | None = None
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Back to the state right after start: fresh markets, no accounts."""
        self.rng = random.Random(self.seed)
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}
        self.next_order_id = 8_284_661_092
        self.next_user_id = 1_813_870
        self.next_position_id = 5_479_295_502
        self.next_fill_id = 2_959_284
        self._reset_tracking()
        now = self.clock.time()
        for spec in self._specs:
            self._add_market(spec, now)
        self.next_funding = self._next_boundary(now)

    def _add_market(self, spec: MarketSpec, now: float) -> None:
        rng = random.Random(f"{self.seed}:{spec.symbol}")
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
        m.open_interest = quantize_to(D(2_000_000) / spec.price, spec.step)
        self.markets[spec.symbol] = m

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
            if price is None and sym in self.markets:
                price = self.markets[sym].mid
            if price is None:
                tick = D(r["filters"]["price"]["tickSize"])
                price = max(tick, D(r["filters"]["price"].get("minPrice") or tick)) * 1000
            specs.append(MarketSpec.from_wire(r, price))
        self._specs = specs
        now = self.clock.time()
        old = self.markets
        self.markets = {}
        for spec in specs:
            if spec.symbol in old and old[spec.symbol].spec == spec:
                self.markets[spec.symbol] = old[spec.symbol]
            elif spec.symbol in old:
                kept = old[spec.symbol]
                kept.spec = spec
                self.markets[spec.symbol] = kept
            else:
                self._add_market(spec, now)

    def _next_boundary(self, now: float) -> float:
        return (math.floor(now / self.funding_interval) + 1) * self.funding_interval

    def _generate_history(self, m: Market, now: float) -> None:
        """35 days of hourly candles and funding rates ending at the current price."""
        rng = random.Random(f"{self.seed}:{m.spec.symbol}:history")
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
        rate = float(m.spec.base_funding)
        hist: list[tuple[int, Decimal]] = []
        regime = 0.0
        # One settled rate per funding interval, as the venue pays them (hourly by default).
        every = self.funding_interval
        last_end = int(now // every) * every
        for i in range(n * HOUR // every):
            if rng.random() < 0.02:
                regime = rng.choice([-1.0, 0.0, 1.0, 2.0, 4.0]) * 0.00005
            value = rate + regime + rng.gauss(0, 0.000008)
            hist.append((last_end - (n * HOUR // every - i - 1) * every, D(str(round(value, 9)))))
        m.funding_history = hist if m.spec.is_perp else []

    # ------------------------------------------------------------------ events

    def add_listener(self, listener: Listener, wants: Wants | None = None) -> Callable[[], None]:
        """Receive every event (WS wire payloads); returns a function that unsubscribes.

        ``wants(stream)`` lets a listener say which streams it needs; payloads nobody wants are
        never built, which is most of the engine's cost when nobody is watching.
        """
        entry = (listener, wants)
        self._listeners.append(entry)

        def remove() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return remove

    def wanted(self, stream: str) -> bool:
        """Whether any listener wants ``stream``."""
        for _, wants in self._listeners:  # noqa: SIM110 - a plain loop: runs for every event
            if wants is None or wants(stream):
                return True
        return False

    def emit(self, stream: str, account: str | None, data: dict[str, Any]) -> None:
        """Hand one event to every listener that wants its stream."""
        for listener, wants in self._listeners:
            if wants is None or wants(stream):
                listener(stream, account, data)

    def _now_us(self) -> int:
        return int(self.clock.time() * 1_000_000)

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _publish_book(self, m: Market) -> None:
        """Diff the aggregated book against the last published one; emit depth + bookTicker."""
        asks, bids = m.aggregated()
        old_asks, old_bids = m.published
        da = _diff(old_asks, asks)
        db = _diff(old_bids, bids)
        m.published = (asks, bids)
        if not da and not db:
            return
        m.update_id += 1
        sym = m.spec.symbol
        depth_stream, ticker_stream = f"depth.{sym}", f"bookTicker.{sym}"
        want_depth, want_ticker = self.wanted(depth_stream), self.wanted(ticker_stream)
        if not want_depth and not want_ticker:
            return
        now = self._now_us()
        if want_depth:
            self._emit_depth(depth_stream, sym, now, m.update_id, (da, db))
        if want_ticker and asks and bids:
            ba, bb = min(asks), max(bids)
            self.emit(
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
                    "u": m.update_id,
                    "T": now,
                },
            )

    def _publish_changes(self, m: Market, changes: Changes) -> None:
        """Fast path of :meth:`_publish_book` when the changed synthetic levels are known.

        Only valid while no user order rests in ``m`` (then the synthetic book *is* the
        aggregated book); saves diffing every level on every tick.
        """
        da, db = changes
        pub_asks, pub_bids = m.published
        da = [(p, q) for p, q in da if pub_asks.get(p, ZERO) != q]
        db = [(p, q) for p, q in db if pub_bids.get(p, ZERO) != q]
        if not da and not db:
            return
        for book, levels in ((pub_asks, da), (pub_bids, db)):
            for p, q in levels:
                if q:
                    book[p] = q
                else:
                    book.pop(p, None)
        m.update_id += 1
        sym = m.spec.symbol
        depth_stream, ticker_stream = f"depth.{sym}", f"bookTicker.{sym}"
        now = self._now_us()
        if self.wanted(depth_stream):
            self._emit_depth(depth_stream, sym, now, m.update_id, (da, db))
        if self.wanted(ticker_stream) and pub_asks and pub_bids:
            ba, bb = min(pub_asks), max(pub_bids)
            if any(p == ba for p, _ in da) or any(p == bb for p, _ in db) or len(da) + len(db) > 1:
                self.emit(
                    ticker_stream,
                    None,
                    {
                        "e": "bookTicker",
                        "E": now,
                        "s": sym,
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
        self.emit(
            stream,
            None,
            {
                "e": "depth",
                "E": now,
                "s": sym,
                "a": [[fmt(p), fmt(q)] for p, q in sorted(da)],
                "b": [[fmt(p), fmt(q)] for p, q in sorted(db)],
                "U": update_id,
                "u": update_id,
                "T": now,
            },
        )

    def publish_periodic(self) -> None:
        """markPrice, ticker and kline for every market (the server calls this every second)."""
        now = self._now_us()
        for sym, m in self.markets.items():
            self.publish_periodic_for(m)
            if self.wanted(f"ticker.{sym}"):
                self._emit_ticker(sym, now)
            for interval, secs in INTERVALS.items():
                stream = f"kline.{interval}.{sym}"
                if self.wanted(stream):
                    self._emit_kline(m, stream, secs, now)

    def _emit_ticker(self, sym: str, now: int) -> None:
        t = self.ticker(sym)
        self.emit(
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

    def _live_candle(self, m: Market, start: int, secs: int) -> Candle:
        """The candle of the interval in progress, from hourly candles or recent trades."""
        if secs >= HOUR:
            cs = [c for c in m.candles if c.start >= start]
            merged = _kline(start, secs, cs or [m.candles[-1]])
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

    def _emit_kline(self, m: Market, stream: str, secs: int, now: int) -> None:
        start = int(self.clock.time()) // secs * secs
        prev = m.kline_starts.get(stream)
        if prev is not None and prev < start:
            # The interval rolled over: close the previous candle once with X=true.
            self._send_kline(m, stream, self._live_candle(m, prev, secs), secs, now, closed=True)
        m.kline_starts[stream] = start
        self._send_kline(m, stream, self._live_candle(m, start, secs), secs, now, closed=False)

    def _send_kline(
        self, m: Market, stream: str, c: Candle, secs: int, now: int, *, closed: bool
    ) -> None:
        self.emit(
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

    # ------------------------------------------------------------------ market moves

    def step(self) -> None:
        """One random-walk tick for every market: move, rebuild, fill crossed orders, trade."""
        for m in self.markets.values():
            # Like a real book, most updates resize a level; the mid moves on ~1 tick in 3
            # (volatility scaled so the variance per second is unchanged).
            moved = m.rng.random() < MOVE_PROBABILITY
            new_mid = m.mid
            if moved:
                shock = m.rng.gauss(0, self.volatility / math.sqrt(MOVE_PROBABILITY))
                new_mid = quantize_to(m.mid * D(str(math.exp(shock))), m.spec.tick, ROUND_HALF_UP)
            if new_mid != m.mid:
                self._move(m, new_mid)
            else:
                # Price unchanged at tick resolution: the maker still requotes a level.
                changed = m.jiggle()
                if changed is not None and not m.resting:
                    is_ask, price = changed
                    level = [(price, (m.asks if is_ask else m.bids)[price])]
                    self._publish_changes(m, (level, []) if is_ask else ([], level))
                elif changed is not None:
                    self._publish_book(m)
            if m.rng.random() < 0.5:
                self._public_trade(m)
        self._roll_candles()
        self._maybe_settle()

    def _move(self, m: Market, new_mid: Decimal) -> None:
        tick = m.spec.tick
        m.mid = max(tick, quantize_to(new_mid, tick, ROUND_HALF_UP))
        m.index = m.mid
        m.mark = m.mid
        changes = m.shift()
        if changes is not None and not m.resting:
            self._publish_changes(m, changes)
            return
        self._fill_crossed(m)
        self._publish_book(m)

    def _public_trade(
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
            pub_asks, pub_bids = m.published
            bb = max(pub_bids) if pub_bids else None
            ba = min(pub_asks) if pub_asks else None
            taker_buy = m.rng.random() < 0.5
            price = (ba if taker_buy else bb) or m.mid
            buyer_maker = not taker_buy
        if qty is None:
            notional = D(str(round(m.rng.uniform(50, 5000), 2)))
            qty = max(m.spec.step, quantize_to(notional / price, m.spec.step))
        now_ms = self._now_ms()
        tid = m.trade_id
        row = {
            "id": tid,
            "price": fmt(price),
            "quantity": fmt(qty),
            "quoteQuantity": fmt(price * qty),
            "timestamp": now_ms,
            "isBuyerMaker": bool(buyer_maker),
        }
        m.trades.append(row)
        m.last = price
        m.candles[-1].update(price, qty)
        m.trade_id += 1
        stream = f"trade.{m.spec.symbol}"
        if not self.wanted(stream):
            return
        now = self._now_us()
        self.emit(
            stream,
            None,
            {
                "e": "trade",
                "E": now,
                "s": m.spec.symbol,
                "p": fmt(price),
                "q": fmt(qty),
                # Synthetic counterparties get stable made-up order ids (no RNG: the walk must
                # not depend on who is subscribed).
                "b": buyer or str(7_000_000_000 + tid * 2),
                "a": seller or str(7_000_000_001 + tid * 2),
                "t": tid,
                "T": now,
                "m": bool(buyer_maker),
            },
        )

    def _roll_candles(self) -> None:
        hour = int(self.clock.time() // HOUR) * HOUR
        for m in self.markets.values():
            if m.candles[-1].start < hour:
                p = m.last
                m.candles.append(Candle(hour, p, p, p, p))
                if len(m.candles) > HISTORY_HOURS + 48:
                    del m.candles[0]

    def _maybe_settle(self) -> None:
        if self.clock.time() >= self.next_funding:
            self.settle_funding()

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Control API: set last/mark/index, recenter the book, emit streams."""
        m = self.market(symbol)
        m.index = m.mark = price
        self._move(m, price)
        m.last = m.mid
        m.candles[-1].update(m.mid)
        self._public_trade(m, price=m.mid, qty=m.spec.min_qty, buyer_maker=False)
        self.publish_periodic_for(m)

    def publish_periodic_for(self, m: Market) -> None:
        """One ``markPrice`` event for a perp (sent every second and on every price set)."""
        if m.spec.is_perp and self.wanted(f"markPrice.{m.spec.symbol}"):
            now = self._now_us()
            self.emit(
                f"markPrice.{m.spec.symbol}",
                None,
                {
                    "e": "markPrice",
                    "E": now,
                    "s": m.spec.symbol,
                    "p": fmt(m.mark),
                    "f": fmt(m.funding_rate),
                    "i": fmt(m.index),
                    "n": int(self.next_funding * 1000),
                    "T": now,
                },
            )

    def set_funding(self, symbol: str, rate: Decimal) -> None:
        """Control API: set the current (estimated) funding rate of a perp."""
        m = self.market(symbol)
        if not m.spec.is_perp:
            raise bad_request("Symbol not found")
        m.funding_rate = rate
        self.publish_periodic_for(m)

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
        m = self.market(symbol)
        if bids is not None and asks is not None:
            m.bids = {p: q for p, q in bids if q > 0}
            m.asks = {p: q for p, q in asks if q > 0}
            if m.bids and m.asks:
                m.mid = (max(m.bids) + min(m.asks)) / 2
            self._fill_crossed(m)
            self._publish_book(m)
        if last is not None:
            m.last = last
            m.candles[-1].update(last)
        if mark is not None:
            m.mark = mark
        if index is not None:
            m.index = index
        if funding_rate is not None:
            m.funding_rate = funding_rate

    def market(self, symbol: str) -> Market:
        m = self.markets.get(symbol)
        if m is None:
            raise bad_request("Invalid market symbol")
        return m

    # ------------------------------------------------------------------ public endpoints

    def markets_wire(self) -> list[dict[str, Any]]:
        ms = self.funding_interval * 1000
        return [m.spec.to_wire(ms) for m in self.markets.values()]

    def assets(self) -> list[dict[str, Any]]:
        return asset_rows(self._specs)

    def ticker(self, symbol: str) -> dict[str, Any]:
        m = self.market(symbol)
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
        m = self.market(symbol)
        asks, bids = m.published
        a = sorted(asks.items())[:limit]
        b = sorted(bids.items())[-limit:]
        return {
            "asks": [[fmt(p), fmt(q)] for p, q in a],
            "bids": [[fmt(p), fmt(q)] for p, q in b],
            "lastUpdateId": str(m.update_id),
            "timestamp": self._now_us(),
        }

    def klines(
        self, symbol: str, interval: str, start: int, end: int | None
    ) -> list[dict[str, Any]]:
        m = self.market(symbol)
        secs = INTERVALS.get(interval)
        if secs is None:
            raise parse_error("interval", '"KlineInterval": Expect a valid enumeration value.')
        end = end if end is not None else int(self.clock.time())
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
                out.append(_kline(b, secs, cs))
            del per
        else:
            for c in m.candles:
                if c.start + HOUR <= start or c.start >= end:
                    continue
                for sub in _split(c, secs, m.spec.tick, f"{self.seed}{symbol}"):
                    if start <= sub.start + secs and sub.start < end:
                        out.append(_kline(sub.start, secs, [sub]))
        return out[-1000:]

    def trades(self, symbol: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        m = self.market(symbol)
        rows = list(m.trades)
        if offset:
            rows = rows[: max(0, len(rows) - offset)]
        return rows[-limit:]

    def mark_prices(self, symbol: str | None = None) -> list[dict[str, Any]]:
        if symbol is not None:
            m = self.markets.get(symbol)
            if m is None:
                raise bad_request("Symbol not found")
            ms = [m]
        else:
            ms = [m for m in self.markets.values() if m.spec.is_perp]
        out = []
        for m in ms:
            row: dict[str, Any] = {"symbol": m.spec.symbol, "markPrice": fmt(m.mark)}
            if m.spec.is_perp:
                row["indexPrice"] = fmt(m.index)
                row["fundingRate"] = fmt(m.funding_rate)
                row["nextFundingTimestamp"] = int(self.next_funding * 1000)
            out.append(row)
        return out

    def funding_rates(self, symbol: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        m = self.market(symbol)
        rows = [(int(self.next_funding), m.funding_rate), *reversed(m.funding_history)]
        sel = rows[offset : offset + limit]
        return [
            {"symbol": symbol, "intervalEndTimestamp": iso(t, ms=False), "fundingRate": fmt(r)}
            for t, r in sel
        ]

    def open_interest(self, symbol: str | None) -> list[dict[str, Any]]:
        ms = (
            [self.market(symbol)]
            if symbol
            else [m for m in self.markets.values() if m.spec.is_perp]
        )
        now = self._now_ms()
        return [
            {"symbol": m.spec.symbol, "openInterest": fmt(m.open_interest), "timestamp": now}
            for m in ms
        ]

    # ------------------------------------------------------------------ accounts

    def account(self, key: str) -> Account:
        acc = self.accounts.get(key)
        if acc is None:
            acc = Account(key=key, user_id=self.next_user_id)
            self.next_user_id += 1
            acc.bal("USDC")[0] = self.initial_balance
            self.accounts[key] = acc
            self._touched_accounts.add(key)
            self._changed()
        return acc

    def _changed(self) -> None:
        if self.on_account_change is not None:
            self.on_account_change()

    def capital(self, key: str) -> dict[str, Any]:
        acc = self.account(key)
        return {
            a: {"available": fmt(v[0]), "locked": fmt(v[1]), "staked": "0"}
            for a, v in acc.balances.items()
        }

    def account_settings(self, key: str) -> dict[str, Any]:
        self.account(key)
        return {
            "autoBorrowSettlements": False,
            "autoLend": False,
            "autoRealizePnl": True,
            "autoRepayBorrows": False,
            "borrowLimit": "0",
            **FEES,
            "leverageLimit": fmt(LEVERAGE),
            "limitOrders": 1000,
            "liquidating": False,
            "positionLimit": "1000000",
            "triggerOrders": 200,
        }

    def _upnl(self, acc: Account) -> Decimal:
        return sum(
            (p.qty * (self.markets[s].mark - p.entry) for s, p in acc.positions.items() if p.qty),
            ZERO,
        )

    def _margin_used(self, acc: Account) -> Decimal:
        used = sum(
            (abs(p.qty) * self.markets[s].mark / LEVERAGE for s, p in acc.positions.items()),
            ZERO,
        )
        for o in acc.open.values():
            if not o.reduce_only and self.markets[o.symbol].spec.is_perp:
                used += o.remaining * (o.price or ZERO) / LEVERAGE
        return used

    def collateral(self, key: str) -> dict[str, Any]:
        acc = self.account(key)
        usdc = acc.bal("USDC")
        upnl = self._upnl(acc)
        assets_value = ZERO
        rows = []
        for asset, (avail, locked) in acc.balances.items():
            price = D(1) if asset == "USDC" else self._asset_price(asset)
            total = avail + locked
            assets_value += total * price
            rows.append(
                {
                    "symbol": asset,
                    "assetMarkPrice": fmt(price),
                    "totalQuantity": fmt(total),
                    "balanceNotional": fmt(total * price),
                    "collateralWeight": "1" if asset == "USDC" else "0.9",
                    "collateralValue": fmt(total * price),
                    "openOrderQuantity": fmt(locked),
                    "lendQuantity": "0",
                    "availableQuantity": fmt(avail),
                }
            )
        equity = assets_value + upnl
        used = self._margin_used(acc)
        exposure = sum((abs(p.qty) * self.markets[s].mark for s, p in acc.positions.items()), ZERO)
        mf = (equity / exposure) if exposure else None
        del usdc
        return {
            "assetsValue": fmt(assets_value),
            "borrowLiability": "0",
            "collateral": rows,
            "imf": fmt(1 / LEVERAGE),
            "mmf": fmt(MMF),
            "unsettledEquity": fmt(upnl),
            "liabilitiesValue": "0",
            "marginFraction": fmt(mf.quantize(D("0.0001"))) if mf is not None else None,
            "netEquity": fmt(equity),
            "netEquityAvailable": fmt(max(ZERO, equity - used)),
            "netEquityLocked": fmt(used),
            "netExposureFutures": fmt(exposure),
            "pnlUnrealized": fmt(upnl),
        }

    def _asset_price(self, asset: str) -> Decimal:
        for sym in (f"{asset}_USDC", f"{asset}_USDC_PERP"):
            if sym in self.markets:
                return self.markets[sym].mark
        return ZERO

    def position_wire(self, acc: Account, p: Position) -> dict[str, Any]:
        m = self.markets[p.symbol]
        notional = p.qty * m.mark
        upnl = p.qty * (m.mark - p.entry)
        fee_bps = D(FEES["futuresTakerFee"]) * BPS
        be = p.entry * (1 + fee_bps) if p.qty > 0 else p.entry * (1 - fee_bps)
        return {
            "symbol": p.symbol,
            "positionId": p.position_id,
            "userId": acc.user_id,
            "subaccountId": None,
            "netQuantity": fmt(p.qty),
            "netExposureQuantity": fmt(abs(p.qty)),
            "netExposureNotional": fmt(abs(notional)),
            "netCost": fmt(p.qty * p.entry),
            "entryPrice": fmt(p.entry),
            "breakEvenPrice": fmt(be.quantize(m.spec.tick)),
            "markPrice": fmt(m.mark),
            "estLiquidationPrice": fmt(self._liq_price(acc, p)),
            "pnlRealized": fmt(p.realized),
            "pnlUnrealized": fmt(upnl),
            "cumulativeFundingPayment": fmt(p.funding),
            "cumulativeInterest": "0",
            "imf": "0.1",
            "imfFunction": m.spec.to_wire(0)["imfFunction"],
            "mmf": fmt(MMF),
            "mmfFunction": m.spec.to_wire(0)["mmfFunction"],
        }

    def _liq_price(self, acc: Account, p: Position) -> Decimal:
        """Price where equity meets maintenance margin, holding other positions' PnL fixed."""
        q = p.qty
        if not q:
            return ZERO
        m = self.markets[p.symbol]
        others = sum(
            (
                o.qty * (self.markets[s].mark - o.entry)
                for s, o in acc.positions.items()
                if s != p.symbol and o.qty
            ),
            ZERO,
        )
        balance = acc.bal("USDC")[0] + acc.bal("USDC")[1] + others
        denom = q * (1 - MMF) if q > 0 else q * (1 + MMF)
        price = (q * p.entry - balance) / denom
        return max(ZERO, quantize_to(price, m.spec.tick))

    def positions(self, key: str, symbol: str | None = None) -> list[dict[str, Any]]:
        acc = self.account(key)
        return [
            self.position_wire(acc, p)
            for s, p in acc.positions.items()
            if p.qty and (symbol is None or s == symbol)
        ]

    # ------------------------------------------------------------------ orders

    def execute(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and run one order (POST /api/v1/order); returns the order object."""
        acc = self.account(key)
        order = self._validate(acc, body)
        self._run(acc, order)
        self._changed()
        return order.to_wire()

    def _validate(self, acc: Account, body: dict[str, Any]) -> Order:
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or symbol not in self.markets:
            raise SimError(
                400,
                "",
                'parse request payload error: failed to parse "MarketSymbol": Invalid market '
                'symbol (occurred while parsing "OrderExecutePayload")',
                plain=True,
            )
        m = self.markets[symbol]
        spec = m.spec
        side = body.get("side")
        otype = body.get("orderType")
        if side not in ("Bid", "Ask"):
            raise _payload_error("Side", "Expect a valid enumeration value")
        if otype not in ("Limit", "Market"):
            raise _payload_error("OrderType", "Expect a valid enumeration value")
        tif = body.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise _payload_error("TimeInForce", "Expect a valid enumeration value")
        stp = body.get("selfTradePrevention") or "RejectTaker"
        if stp not in ("RejectTaker", "RejectMaker", "RejectBoth", "Allow"):
            raise _payload_error("SelfTradePrevention", "Expect a valid enumeration value")
        cid = body.get("clientId")
        if cid is not None and (
            isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid <= 4_294_967_295
        ):
            raise _payload_error("u32", "Expect a valid unsigned 32-bit integer")
        if body.get("triggerPrice") is not None or body.get("triggerQuantity") is not None:
            if body.get("triggerPrice") is None or body.get("triggerQuantity") is None:
                raise bad_request(
                    "Must specify both `triggerPrice` and `triggerQuantity` or neither"
                )
            raise SimError(400, "NOT_IMPLEMENTED", "Trigger orders are not simulated")
        post_only = bool(body.get("postOnly") or False)
        reduce_only = bool(body.get("reduceOnly") or False)
        qty = dec(body["quantity"], "quantity") if body.get("quantity") is not None else None
        quote_qty = (
            dec(body["quoteQuantity"], "quoteQuantity")
            if body.get("quoteQuantity") is not None
            else None
        )
        price = dec(body["price"], "price") if body.get("price") is not None else None
        if otype == "Limit":
            if price is None or qty is None:
                raise bad_request("Limit orders require `price` and `quantity`")
            if quote_qty is not None:
                raise bad_request("Quote quantity is only supported for market orders")
        else:
            if (qty is None) == (quote_qty is None):
                raise bad_request("Must specify one of `quantity` or `quoteQuantity`")
            if post_only:
                raise SimError(400, "INVALID_ORDER", "Post only is only supported for limit orders")
        if price is not None:
            if price <= 0:
                raise SimError(400, "INVALID_PRICE", "Price must be positive")
            if price % spec.tick != 0:
                raise bad_request("Price decimal too long")
            if price > m.last * D("1.25") or price < m.last * D("0.75"):
                raise SimError(400, "INVALID_PRICE", "Price is too far from the last active price")
        if qty is not None:
            if qty <= 0:
                raise SimError(400, "INVALID_QUANTITY", "Quantity must be positive")
            if qty % spec.step != 0:
                raise bad_request("Quantity decimal too long")
            if qty < spec.min_qty:
                raise SimError(
                    400, "INVALID_QUANTITY", "Quantity is below the minimum allowed value"
                )
            if spec.max_qty is not None and qty > spec.max_qty:
                raise SimError(
                    400, "INVALID_QUANTITY", "Quantity is above the maximum allowed value"
                )
        if quote_qty is not None and quote_qty <= 0:
            raise SimError(400, "INVALID_QUANTITY", "Quote quantity must be positive")
        if reduce_only and not spec.is_perp:
            raise SimError(400, "INVALID_ORDER", "Reduce only is only supported for futures")
        if reduce_only:
            pos = acc.positions.get(symbol)
            pq = pos.qty if pos else ZERO
            if pq == 0 or (pq > 0) == (side == "Bid"):
                raise SimError(400, "INVALID_ORDER", "Reduce only order would not reduce position")
        if post_only and price is not None:
            bb, ba = m.best()
            if (side == "Bid" and ba is not None and price >= ba) or (
                side == "Ask" and bb is not None and price <= bb
            ):
                raise SimError(400, "INVALID_ORDER", "Order would immediately match and take")
        order = Order(
            id=str(self.next_order_id),
            account=acc.key,
            symbol=symbol,
            side=side,
            order_type=otype,
            quantity=qty,
            price=price,
            quote_quantity=quote_qty,
            client_id=cid,
            tif=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,
            created_ms=self._now_ms(),
        )
        self._check_funds(acc, m, order)
        self.next_order_id += 1 + self.rng.randint(0, 7)
        return order

    def _estimate_cost(self, m: Market, order: Order) -> Decimal:
        """Quote needed to fill ``order`` now (walks the book for market orders)."""
        if order.quote_quantity is not None:
            return order.quote_quantity
        assert order.quantity is not None
        if order.price is not None:
            return order.quantity * order.price
        asks, bids = m.aggregated()
        levels = sorted(asks.items()) if order.side == "Bid" else sorted(bids.items(), reverse=True)
        left, cost = order.quantity, ZERO
        for p, q in levels:
            take = min(left, q)
            cost += take * p
            left -= take
            if not left:
                break
        return cost + left * m.mid

    def _check_funds(self, acc: Account, m: Market, order: Order) -> None:
        spec = m.spec
        if spec.is_perp:
            if order.reduce_only:
                return
            pos = acc.positions.get(spec.symbol)
            pq = pos.qty if pos else ZERO
            qty = (
                order.quantity
                if order.quantity is not None
                else ((order.quote_quantity or ZERO) / m.mid)
            )
            signed = qty if order.side == "Bid" else -qty
            added = max(ZERO, abs(pq + signed) - abs(pq))
            need = added * (order.price or m.mid) / LEVERAGE
            usdc = acc.bal("USDC")
            equity = usdc[0] + usdc[1] + self._upnl(acc)
            if need and need + self._margin_used(acc) > equity:
                raise SimError(400, "INSUFFICIENT_MARGIN", "Insufficient margin")
            return
        if order.side == "Bid":
            need = self._estimate_cost(m, order)
            if need > acc.bal(spec.quote)[0]:
                raise SimError(400, "INSUFFICIENT_FUNDS", "Insufficient funds")
        else:
            qty = (
                order.quantity
                if order.quantity is not None
                else ((order.quote_quantity or ZERO) / m.mid)
            )
            if qty > acc.bal(spec.base)[0]:
                raise SimError(400, "INSUFFICIENT_FUNDS", "Insufficient funds")

    def _run(self, acc: Account, order: Order) -> None:
        m = self.markets[order.symbol]
        acc.orders[order.id] = order
        self._order_event(order, "orderAccepted")
        if order.tif == "FOK" and not self._can_fill(m, order):
            self._expire(order, "FillOrKill")
            return
        self._take(acc, m, order)
        if order.order_type == "Market" or order.tif in ("IOC", "FOK"):
            if order.status not in ("Filled",):
                self._expire(order, "ImmediateOrCancel" if order.tif != "FOK" else "FillOrKill")
            return
        if order.remaining > 0:
            self._lock(acc, m, order)
            m.resting.append(order)
            acc.open[order.id] = order
            self._publish_book(m)

    def _can_fill(self, m: Market, order: Order) -> bool:
        asks, bids = m.aggregated()
        levels = asks if order.side == "Bid" else bids
        avail = sum(
            (
                q
                for p, q in levels.items()
                if order.price is None
                or (p <= order.price if order.side == "Bid" else p >= order.price)
            ),
            ZERO,
        )
        return avail >= (order.quantity or ZERO)

    def _lock(self, acc: Account, m: Market, order: Order) -> None:
        if m.spec.is_perp:
            return
        assert order.price is not None
        if order.side == "Bid":
            asset, amount = m.spec.quote, order.remaining * order.price
        else:
            asset, amount = m.spec.base, order.remaining
        b = acc.bal(asset)
        b[0] -= amount
        b[1] += amount
        order.locked_asset, order.locked = asset, amount

    def _unlock(self, acc: Account, order: Order) -> None:
        if order.locked_asset and order.locked:
            b = acc.bal(order.locked_asset)
            b[0] += order.locked
            b[1] -= order.locked
            order.locked = ZERO

    def _take(self, acc: Account, m: Market, order: Order) -> None:
        """Walk the book (synthetic liquidity and other users' resting orders)."""
        buy = order.side == "Bid"
        impact = m.mid * (D("1.03") if buy else D("0.97"))
        limit = order.price if order.price is not None else impact
        pos = acc.positions.get(m.spec.symbol)
        max_qty = order.quantity
        if order.reduce_only and pos is not None:
            cap = abs(pos.qty)
            max_qty = min(max_qty, cap) if max_qty is not None else cap
        quote_left = order.quote_quantity
        filled_any = False
        while True:
            left = (max_qty - order.executed) if max_qty is not None else None
            if left is not None and left <= 0:
                break
            if quote_left is not None and quote_left <= 0:
                break
            level = self._best_level(m, buy, exclude=order)
            if level is None:
                break
            price, avail, maker = level
            if (buy and price > limit) or (not buy and price < limit):
                break
            take = avail if left is None else min(left, avail)
            if quote_left is not None:
                take = min(take, quantize_to(quote_left / price, m.spec.step))
                if take <= 0:
                    break
            self._fill(acc, m, order, price, take, maker_is_me=False)
            filled_any = True
            if quote_left is not None:
                quote_left -= take * price
            if maker is None:
                book = m.asks if buy else m.bids
                book[price] -= take
                if book[price] <= 0:
                    del book[price]
            else:
                other = self.accounts[maker.account]
                self._fill(other, m, maker, price, take, maker_is_me=True)
            self._public_trade(
                m,
                price=price,
                qty=take,
                buyer_maker=not buy,
                buyer=order.id if buy else (maker.id if maker else ""),
                seller=order.id if not buy else (maker.id if maker else ""),
            )
        if filled_any:
            self._publish_book(m)
        if order.quantity is None and order.order_type == "Market":
            order.quantity = order.executed
        if order.executed and (order.quantity is None or order.executed >= order.quantity):
            order.status = "Filled"
        elif order.executed:
            order.status = "PartiallyFilled"

    def _best_level(
        self, m: Market, buy: bool, exclude: Order
    ) -> tuple[Decimal, Decimal, Order | None] | None:
        synth = m.asks if buy else m.bids
        best_s = (min(synth) if buy else max(synth)) if synth else None
        best_o: Order | None = None
        best_p = ZERO
        best_q = ZERO
        for o in m.resting:
            if o is exclude or o.account == exclude.account or (o.side == "Bid") == buy:
                continue
            assert o.price is not None
            avail = self._reducible(o) if o.reduce_only else o.remaining
            if avail <= 0:
                continue
            if best_o is None or (o.price < best_p if buy else o.price > best_p):
                best_o, best_p, best_q = o, o.price, avail
        if best_o is not None and (
            best_s is None or (best_p <= best_s if buy else best_p >= best_s)
        ):
            return best_p, best_q, best_o
        if best_s is None:
            return None
        return best_s, synth[best_s], None

    def _fill(
        self,
        acc: Account,
        m: Market,
        order: Order,
        price: Decimal,
        qty: Decimal,
        *,
        maker_is_me: bool,
    ) -> None:
        spec = m.spec
        buy = order.side == "Bid"
        fee_key = ("futures" if spec.is_perp else "spot") + (
            "MakerFee" if maker_is_me else "TakerFee"
        )
        rate = D(FEES[fee_key]) * BPS
        notional = price * qty
        if spec.is_perp:
            fee = (notional * rate).quantize(D("0.000001"), ROUND_HALF_UP)
            fee_asset = "USDC"
            self._apply_perp(acc, m, qty if buy else -qty, price, fee)
        else:
            if order.locked_asset:
                # Release the lock proportionally for the filled part.
                part = qty * (order.price or price) if buy else qty
                part = min(part, order.locked)
                b = acc.bal(order.locked_asset)
                b[1] -= part
                b[0] += part
                order.locked -= part
            base, quote = acc.bal(spec.base), acc.bal(spec.quote)
            if buy:
                fee = quantize_to(qty * rate, D("0.00000001"))
                fee_asset = spec.base
                quote[0] -= notional
                base[0] += qty - fee
            else:
                fee = (notional * rate).quantize(D("0.000001"), ROUND_HALF_UP)
                fee_asset = spec.quote
                base[0] -= qty
                quote[0] += notional - fee
        order.executed += qty
        order.executed_quote += notional
        if order.quantity is not None and order.executed >= order.quantity:
            order.status = "Filled"
            if order in m.resting:
                m.resting.remove(order)
                acc.open.pop(order.id, None)
                self._unlock(acc, order)
        elif order.executed:
            order.status = "PartiallyFilled"
        self.next_fill_id += 1
        acc.fills.append(
            {
                "tradeId": self.next_fill_id,
                "orderId": order.id,
                "clientId": str(order.client_id) if order.client_id is not None else None,
                "symbol": spec.symbol,
                "side": order.side,
                "price": fmt(price),
                "quantity": fmt(qty),
                "fee": fmt(fee),
                "feeSymbol": fee_asset,
                "isMaker": maker_is_me,
                "systemOrderType": None,
                "timestamp": iso(self.clock.time()),
                "_ts": self._now_ms(),
            }
        )
        self._order_event(
            order,
            "orderFill",
            fill={
                "l": fmt(qty),
                "L": fmt(price),
                "m": maker_is_me,
                "n": fmt(fee),
                "N": fee_asset,
                "t": self.next_fill_id,
            },
        )

    def _apply_perp(
        self, acc: Account, m: Market, signed: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        sym = m.spec.symbol
        pos = acc.positions.get(sym)
        event = "positionAdjusted"
        if pos is None or pos.qty == 0:
            pos = Position(symbol=sym, position_id=str(self.next_position_id))
            self.next_position_id += 1
            acc.positions[sym] = pos
            event = "positionOpened"
        usdc = acc.bal("USDC")
        old = pos.qty
        new = old + signed
        realized = ZERO
        if old == 0 or (old > 0) == (signed > 0):
            pos.entry = (old * pos.entry + signed * price) / new if new else ZERO
        else:
            closed = min(abs(old), abs(signed))
            realized = closed * (price - pos.entry) * (1 if old > 0 else -1)
            if abs(signed) > abs(old):
                pos.entry = price
            elif new == 0:
                pos.entry = pos.entry
        pos.qty = new
        pos.realized += realized - fee
        pos.fees += fee
        usdc[0] += realized - fee
        m.open_interest = max(ZERO, m.open_interest + abs(new) - abs(old))
        if new == 0:
            event = "positionClosed"
        self._position_event(acc, pos, event)
        if new == 0:
            del acc.positions[sym]
        if (old > 0) != (new > 0) or new == 0:
            self._expire_stale_reduce_only(acc, sym)

    def _expire(self, order: Order, reason: str) -> None:
        order.status = "Expired"
        order.expiry_reason = reason
        acc = self.accounts[order.account]
        if acc.open.pop(order.id, None) is not None:
            m = self.markets[order.symbol]
            if order in m.resting:
                m.resting.remove(order)
            self._unlock(acc, order)
        self._order_event(order, "orderExpired", extra={"R": reason})

    def _reducible(self, order: Order) -> Decimal:
        """How much of a reduce-only order may still fill without growing or flipping."""
        pos = self.accounts[order.account].positions.get(order.symbol)
        pq = pos.qty if pos is not None else ZERO
        if pq == 0 or (pq > 0) == (order.side == "Bid"):
            return ZERO
        return min(order.remaining, abs(pq))

    def _expire_stale_reduce_only(self, acc: Account, symbol: str) -> None:
        """Resting reduce-only orders that can no longer reduce are expired, as on the exchange."""
        for o in list(acc.open.values()):
            if o.reduce_only and o.symbol == symbol and self._reducible(o) <= 0:
                self._expire(o, "ReduceOnlyNotReduced")

    def _fill_crossed(self, m: Market) -> None:
        """Resting user orders that the moved market now crosses fill as makers."""
        if not m.resting:
            return
        best_ask = min(m.asks) if m.asks else None
        best_bid = max(m.bids) if m.bids else None
        for o in list(m.resting):
            assert o.price is not None
            crossed = (o.side == "Bid" and best_ask is not None and o.price >= best_ask) or (
                o.side == "Ask" and best_bid is not None and o.price <= best_bid
            )
            if crossed and o.status in ("New", "PartiallyFilled"):
                acc = self.accounts[o.account]
                qty = self._reducible(o) if o.reduce_only else o.remaining
                if qty <= 0:
                    self._expire(o, "ReduceOnlyNotReduced")
                    continue
                self._fill(acc, m, o, o.price, qty, maker_is_me=True)
                self._public_trade(m, price=o.price, qty=qty, buyer_maker=o.side == "Bid")
                self._changed()

    def get_order(
        self, key: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> dict[str, Any]:
        acc = self.account(key)
        self.market(symbol)
        o = self._find(acc, symbol, order_id, client_id)
        if o is None or o.status not in ("New", "PartiallyFilled"):
            raise SimError(404, "RESOURCE_NOT_FOUND", "Not Found")
        return o.to_wire()

    def _find(
        self, acc: Account, symbol: str, order_id: str | None, client_id: int | None
    ) -> Order | None:
        if (order_id is None) == (client_id is None):
            raise bad_request("Must specify exactly one of `orderId` or `clientId`")
        if order_id is not None:
            o = acc.orders.get(str(order_id))
            return o if o is not None and o.symbol == symbol else None
        live = [o for o in acc.orders.values() if o.client_id == client_id and o.symbol == symbol]
        live.sort(key=lambda o: (o.status in ("New", "PartiallyFilled"), o.created_ms))
        return live[-1] if live else None

    def cancel(
        self, key: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> dict[str, Any]:
        acc = self.account(key)
        m = self.market(symbol)
        o = self._find(acc, symbol, order_id, client_id)
        if o is None or o.status not in ("New", "PartiallyFilled"):
            raise SimError(404, "RESOURCE_NOT_FOUND", "Not Found")
        self._cancel(acc, m, o)
        self._publish_book(m)
        self._changed()
        return o.to_wire()

    def _cancel(self, acc: Account, m: Market, o: Order) -> None:
        o.status = "Cancelled"
        acc.open.pop(o.id, None)
        if o in m.resting:
            m.resting.remove(o)
        self._unlock(acc, o)
        self._order_event(o, "orderCancelled")

    def cancel_all(self, key: str, symbol: str) -> list[dict[str, Any]]:
        acc = self.account(key)
        m = self.market(symbol)
        out = []
        for o in list(m.resting):
            if o.account == key:
                self._cancel(acc, m, o)
                out.append(o.to_wire())
        self._publish_book(m)
        self._changed()
        return out

    def open_orders(self, key: str, symbol: str | None) -> list[dict[str, Any]]:
        acc = self.account(key)
        if symbol is not None:
            self.market(symbol)
        return [o.to_wire() for o in acc.open.values() if symbol is None or o.symbol == symbol]

    def max_order_quantity(
        self, key: str, symbol: str, side: str, price: Decimal | None, reduce_only: bool
    ) -> dict[str, Any]:
        acc = self.account(key)
        m = self.market(symbol)
        px = price or m.mid
        if m.spec.is_perp:
            pos = acc.positions.get(symbol)
            pq = pos.qty if pos else ZERO
            if reduce_only:
                mx = abs(pq) if pq and (pq > 0) != (side == "Bid") else ZERO
            else:
                usdc = acc.bal("USDC")
                free = usdc[0] + usdc[1] + self._upnl(acc) - self._margin_used(acc)
                mx = max(ZERO, free) * LEVERAGE / px
                if pq and (pq > 0) != (side == "Bid"):
                    mx += abs(pq)
        elif side == "Bid":
            mx = acc.bal(m.spec.quote)[0] / px
        else:
            mx = acc.bal(m.spec.base)[0]
        mx = quantize_to(mx, m.spec.step)
        if m.spec.max_qty is not None:
            mx = min(mx, m.spec.max_qty)
        return {
            "symbol": symbol,
            "side": side,
            "maxOrderQuantity": fmt(mx),
            "price": fmt(px),
            "reduceOnly": reduce_only,
        }

    # ------------------------------------------------------------------ history

    def fill_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.account(key)
        rows = acc.fills
        rows = [
            r
            for r in rows
            if (not q.get("symbol") or r["symbol"] == q["symbol"])
            and (not q.get("orderId") or r["orderId"] == q["orderId"])
            and (not q.get("from") or r["_ts"] >= int(q["from"]))
            and (not q.get("to") or r["_ts"] <= int(q["to"]))
        ]
        rows = _page(rows, q)
        return [{k: v for k, v in r.items() if k != "_ts"} for r in rows]

    def order_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.account(key)
        rows = [
            o
            for o in acc.orders.values()
            if (not q.get("symbol") or o.symbol == q["symbol"])
            and (not q.get("orderId") or o.id == q["orderId"])
        ]
        return [o.to_wire(history=True) for o in _page(rows, q)]

    def funding_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.account(key)
        rows = [r for r in acc.funding if not q.get("symbol") or r["symbol"] == q["symbol"]]
        return _page(rows, q)

    # ------------------------------------------------------------------ funding

    def settle_funding(self) -> None:
        """Pay funding on every open perp position at the current mark and estimated rate."""
        end = self.next_funding if self.clock.time() >= self.next_funding else self.clock.time()
        end_ts = int(end)
        for m in self.markets.values():
            if m.spec.is_perp:
                m.funding_history.append((end_ts, m.funding_rate))
        for acc in self.accounts.values():
            for sym, pos in list(acc.positions.items()):
                if not pos.qty:
                    continue
                m = self.markets[sym]
                payment = (m.funding_rate * pos.qty * m.mark).quantize(D("0.000001"), ROUND_HALF_UP)
                acc.bal("USDC")[0] -= payment
                pos.funding -= payment
                acc.funding.append(
                    {
                        "userId": acc.user_id,
                        "subaccountId": 0,
                        "symbol": sym,
                        "quantity": fmt(-payment),
                        "intervalEndTimestamp": iso(end_ts, ms=False),
                        "fundingRate": fmt(m.funding_rate),
                    }
                )
                self._position_event(acc, pos, "positionAdjusted")
        self.next_funding = self._next_boundary(max(self.clock.time(), end) + 0.001)
        self._changed()

    # ------------------------------------------------------------------ private events

    def _order_event(
        self,
        o: Order,
        event: str,
        *,
        fill: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._touched_orders[o.id] = o
        self._touched_accounts.add(o.account)
        streams = ("account.orderUpdate", f"account.orderUpdate.{o.symbol}")
        if not (self.wanted(streams[0]) or self.wanted(streams[1])):
            return
        now = self._now_us()
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
        if o.quantity is not None:
            data["q"] = fmt(o.quantity)
        if o.quote_quantity is not None:
            data["Q"] = fmt(o.quote_quantity)
        if o.price is not None:
            data["p"] = fmt(o.price)
            data["y"] = o.post_only
        if fill:
            data.update(fill)
        if extra:
            data.update(extra)
        for stream in streams:
            self.emit(stream, o.account, data)

    def position_event_payload(
        self, acc: Account, p: Position, event: str | None
    ) -> dict[str, Any]:
        m = self.markets[p.symbol]
        now = self._now_us()
        fee_bps = D(FEES["futuresTakerFee"]) * BPS
        be = p.entry * (1 + fee_bps) if p.qty >= 0 else p.entry * (1 - fee_bps)
        data: dict[str, Any] = {
            "E": now,
            "s": p.symbol,
            "b": fmt(be.quantize(m.spec.tick)),
            "B": fmt(p.entry),
            "f": "0.1",
            "m": fmt(MMF),
            "M": fmt(m.mark),
            "q": fmt(p.qty),
            "Q": fmt(abs(p.qty)),
            "n": fmt(abs(p.qty) * m.mark),
            "i": p.position_id,
            "p": fmt(p.realized),
            "P": fmt(p.qty * (m.mark - p.entry)),
            "l": fmt(self._liq_price(acc, p)),
            "T": now,
        }
        if event:
            data["e"] = event
        return data

    def _position_event(self, acc: Account, p: Position, event: str) -> None:
        self._touched_accounts.add(acc.key)
        streams = ("account.positionUpdate", f"account.positionUpdate.{p.symbol}")
        if not (self.wanted(streams[0]) or self.wanted(streams[1])):
            return
        data = self.position_event_payload(acc, p, event)
        for stream in streams:
            self.emit(stream, acc.key, data)

    def position_snapshot(self, key: str, symbol: str | None) -> list[dict[str, Any]]:
        """The messages a fresh position subscription starts with (no ``e``)."""
        acc = self.accounts.get(key)
        if acc is None:
            return []
        return [
            self.position_event_payload(acc, p, None)
            for s, p in acc.positions.items()
            if p.qty and (symbol is None or s == symbol)
        ]

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """`GET /_sim/state`: every account's balances, positions, orders, fills and funding."""
        return {
            "accounts": {
                key: {
                    "balances": self.capital(key),
                    "positions": self.positions(key),
                    "orders": [o.to_state() for o in acc.orders.values()],
                    "fills": [{k: v for k, v in f.items() if k != "_ts"} for f in acc.fills],
                    "funding": list(acc.funding),
                }
                for key, acc in self.accounts.items()
            }
        }

    def dump(self) -> str:
        """Serialise every account (paper trading persistence)."""
        return json.dumps(self.dump_data())

    def load(self, text: str) -> None:
        """Restore accounts written by :meth:`dump`; resting orders go back on their books."""
        self.load_data(json.loads(text))

    def _counters(self) -> dict[str, int]:
        return {
            "next_order_id": self.next_order_id,
            "next_user_id": self.next_user_id,
            "next_position_id": self.next_position_id,
            "next_fill_id": self.next_fill_id,
        }

    def dump_data(self) -> dict[str, Any]:
        """Every account and id counter as JSON-ready data (see :mod:`bot.sim.store`)."""
        return {
            **self._counters(),
            "accounts": [
                {
                    **_account_head(a),
                    "orders": [_order_dump(o) for o in a.orders.values()],
                    "fills": a.fills,
                    "funding": a.funding,
                }
                for a in self.accounts.values()
            ],
        }

    def load_data(self, data: dict[str, Any]) -> None:
        """Restore what :meth:`dump_data` wrote; resting orders go back on their books."""
        for m in self.markets.values():
            m.resting.clear()
        self.accounts = {}
        self.apply_changes(data)
        self._reset_tracking()

    def _reset_tracking(self) -> None:
        self._touched_orders: dict[str, Order] = {}
        self._touched_accounts: set[str] = set()
        self._full_snapshot = True

    def needs_snapshot(self) -> bool:
        """True after a reset or load: the journal cannot express that, a snapshot must."""
        return self._full_snapshot

    def take_changes(self) -> dict[str, Any] | None:
        """What changed since the last call, in :meth:`apply_changes` form (or ``None``).

        Order rows are whole orders (every order change passes through ``_order_event``);
        balances and positions are whole per account; fills and funding rows are the new tail.
        """
        self._full_snapshot = False
        if not self._touched_accounts and not self._touched_orders:
            return None
        by_account: dict[str, list[dict[str, Any]]] = {}
        for o in self._touched_orders.values():
            by_account.setdefault(o.account, []).append(_order_dump(o))
        keys = self._touched_accounts | set(by_account)
        rows = []
        for key in keys:
            a = self.accounts.get(key)
            if a is None:
                continue
            rows.append(
                {
                    **_account_head(a),
                    "orders": by_account.get(key, []),
                    "fills_from": a.persisted_fills,
                    "fills": a.fills[a.persisted_fills :],
                    "funding_from": a.persisted_funding,
                    "funding": a.funding[a.persisted_funding :],
                }
            )
            a.persisted_fills, a.persisted_funding = len(a.fills), len(a.funding)
        self._touched_orders = {}
        self._touched_accounts = set()
        return {**self._counters(), "accounts": rows}

    def apply_changes(self, data: dict[str, Any]) -> None:
        """Apply a snapshot or a journal record; applying one twice changes nothing."""
        for name in ("next_order_id", "next_user_id", "next_position_id", "next_fill_id"):
            setattr(self, name, max(getattr(self, name), int(data[name])))
        for a in data["accounts"]:
            acc = self.accounts.get(a["key"])
            if acc is None:
                acc = self.accounts[a["key"]] = Account(key=a["key"], user_id=a["user_id"])
            acc.balances = {k: [D(v[0]), D(v[1])] for k, v in a["balances"].items()}
            acc.positions = {}
            for p in a["positions"]:
                acc.positions[p["symbol"]] = Position(
                    symbol=p["symbol"],
                    position_id=p["position_id"],
                    qty=D(p["qty"]),
                    entry=D(p["entry"]),
                    realized=D(p["realized"]),
                    funding=D(p["funding"]),
                    fees=D(p["fees"]),
                )
            for od in a["orders"]:
                self._restore_order(acc, _order_load(od))
            del acc.fills[a.get("fills_from", 0) :]
            acc.fills.extend(a["fills"])
            del acc.funding[a.get("funding_from", 0) :]
            acc.funding.extend(a["funding"])
            acc.persisted_fills, acc.persisted_funding = len(acc.fills), len(acc.funding)

    def _restore_order(self, acc: Account, o: Order) -> None:
        old = acc.orders.get(o.id)
        if old is not None:
            acc.open.pop(o.id, None)
            if old.symbol in self.markets and old in self.markets[old.symbol].resting:
                self.markets[old.symbol].resting.remove(old)
        acc.orders[o.id] = o
        if o.status in ("New", "PartiallyFilled") and o.symbol in self.markets:
            self.markets[o.symbol].resting.append(o)
            acc.open[o.id] = o


INTERVALS = {
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


def _payload_error(type_name: str, detail: str) -> SimError:
    return SimError(
        400,
        "",
        f'parse request payload error: failed to parse "{type_name}": {detail} '
        '(occurred while parsing "OrderExecutePayload")',
        plain=True,
    )


def _diff(
    old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]
) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, ZERO) for p in old if p not in new)
    return out


def _kline(start: int, secs: int, cs: list[Candle]) -> dict[str, Any]:
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


def _split(c: Candle, secs: int, tick: Decimal, salt: str) -> list[Candle]:
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


def _page(rows: list[Any], q: dict[str, str]) -> list[Any]:
    try:
        limit = min(1000, int(q.get("limit", "100")))
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise parse_error("limit", '"u64": invalid digit found in string') from None
    desc = q.get("sortDirection", "Desc") != "Asc"
    ordered = list(reversed(rows)) if desc else list(rows)
    return ordered[offset : offset + limit]


def _account_head(a: Account) -> dict[str, Any]:
    return {
        "key": a.key,
        "user_id": a.user_id,
        "balances": {k: [str(v[0]), str(v[1])] for k, v in a.balances.items()},
        "positions": [
            {
                "symbol": p.symbol,
                "position_id": p.position_id,
                "qty": str(p.qty),
                "entry": str(p.entry),
                "realized": str(p.realized),
                "funding": str(p.funding),
                "fees": str(p.fees),
            }
            for p in a.positions.values()
        ],
    }


def _order_dump(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "account": o.account,
        "symbol": o.symbol,
        "side": o.side,
        "order_type": o.order_type,
        "quantity": str(o.quantity) if o.quantity is not None else None,
        "price": str(o.price) if o.price is not None else None,
        "quote_quantity": str(o.quote_quantity) if o.quote_quantity is not None else None,
        "client_id": o.client_id,
        "tif": o.tif,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "stp": o.stp,
        "created_ms": o.created_ms,
        "status": o.status,
        "executed": str(o.executed),
        "executed_quote": str(o.executed_quote),
        "expiry_reason": o.expiry_reason,
        "locked_asset": o.locked_asset,
        "locked": str(o.locked),
    }


def _order_load(d: dict[str, Any]) -> Order:
    def opt(v: str | None) -> Decimal | None:
        return D(v) if v is not None else None

    return Order(
        id=d["id"],
        account=d["account"],
        symbol=d["symbol"],
        side=d["side"],
        order_type=d["order_type"],
        quantity=opt(d["quantity"]),
        price=opt(d["price"]),
        quote_quantity=opt(d["quote_quantity"]),
        client_id=d["client_id"],
        tif=d["tif"],
        post_only=d["post_only"],
        reduce_only=d["reduce_only"],
        stp=d["stp"],
        created_ms=d["created_ms"],
        status=d["status"],
        executed=D(d["executed"]),
        executed_quote=D(d["executed_quote"]),
        expiry_reason=d["expiry_reason"],
        locked_asset=d["locked_asset"],
        locked=D(d["locked"]),
    )
