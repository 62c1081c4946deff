"""One market's live state: prices, the synthetic maker ladder and the users' resting orders."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bot.sim.markets import MarketSpec
from bot.sim.model import (
    ZERO,
    Candle,
    D,
    Order,
    quantize_to,
)

LEVELS = 30
BAND_LOW, BAND_HIGH = D("0.8"), D("1.2")
_FACTORS: dict[float, Decimal] = {}  # jiggle's resize factors (about 600), parsed once


Changes = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]
"""Changed ``(price, quantity)`` levels of a book, asks then bids; quantity 0 removes a level."""


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
    triggers: list[Order] = field(default_factory=list)  # conditional orders waiting to fire
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
    #: ``profile_mid`` x 0.8 and x 1.2: the band the ladder's grid holds for (set with it).
    profile_band: tuple[Decimal, Decimal] = (ZERO, ZERO)
    gap: Decimal = ZERO
    unit: Decimal = ZERO
    salt: int = 0
    sizes: dict[int, Decimal] = field(default_factory=dict)
    #: Grid price by index, kept with ``sizes``: one object per price, so its hash (dearer
    #: than the multiplication) is computed once however often the walk comes back to it.
    prices: dict[int, Decimal] = field(default_factory=dict, repr=False, compare=False)
    bid_index: int = 0
    kline_starts: dict[str, int] = field(default_factory=dict)
    oi_published_us: int = 0
    #: ``(asks, bids, best ask, best bid)`` of :attr:`published`, kept by ``publish_changes``.
    best_cache: tuple[Any, Any, Decimal | None, Decimal | None] | None = field(
        default=None, repr=False, compare=False
    )

    def published_best(self) -> tuple[Decimal | None, Decimal | None]:
        """Best published ask and bid; cached while :attr:`published` holds the same books
        (a new pair of books, as ``publish_book`` assigns, is never read from the cache)."""
        asks, bids = self.published
        cached = self.best_cache
        if cached is not None and cached[0] is asks and cached[1] is bids:
            return cached[2], cached[3]
        return (min(asks) if asks else None), (max(bids) if bids else None)

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
        self.profile_band = (self.mid * BAND_LOW, self.mid * BAND_HIGH)
        self.sizes = {}
        self.prices = {}

    def price_at(self, index: int) -> Decimal:
        """The grid price at ``index`` (``gap * index``)."""
        price = self.prices.get(index)
        if price is None:
            price = self.prices[index] = self.gap * index
        return price

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
        low, high = self.profile_band
        if self.profile_mid == 0 or not (low < self.mid < high):
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
            pa = self.price_at(ia)
            asks[pa] = old_asks.get(pa) or self.size_at(ia)
            if ib > 0:
                pb = self.price_at(ib)
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
        low, high = self.profile_band
        if not self.gap or not (low < self.mid < high) or not (self.asks or self.bids):
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
        price_at = self.price_at
        # Only the indices between the old and the new window change (|new - old| < LEVELS).
        if new > old:
            ask_out, ask_in = range(old + 1, new + 1), range(old + LEVELS + 1, new + LEVELS + 1)
            bid_out, bid_in = range(old - LEVELS + 1, new - LEVELS + 1), range(old + 1, new + 1)
        else:
            ask_out, ask_in = range(new + LEVELS + 1, old + LEVELS + 1), range(new + 1, old + 1)
            bid_out, bid_in = range(new + 1, old + 1), range(new - LEVELS + 1, old - LEVELS + 1)
        for i in ask_out:
            p = price_at(i)
            if self.asks.pop(p, None) is not None:
                da.append((p, ZERO))
        for i in ask_in:
            p = price_at(i)
            self.asks[p] = q = self.size_at(i)
            da.append((p, q))
        for i in bid_out:
            if i > 0:
                p = price_at(i)
                if self.bids.pop(p, None) is not None:
                    db.append((p, ZERO))
        for i in bid_in:
            if i > 0:
                p = price_at(i)
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
        if index <= 0:
            return None
        price = self.price_at(index)
        if price not in book:
            # A level a taker ate is requoted: the synthetic maker replenishes.
            book[price] = self.size_at(index)
            return is_ask, price
        step = self.spec.step
        r = round(0.7 + self.rng.random() * 0.6, 3)
        factor = _FACTORS.get(r)
        if factor is None:
            factor = _FACTORS[r] = D(str(r))
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


def diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, ZERO) for p in old if p not in new)
    return out
