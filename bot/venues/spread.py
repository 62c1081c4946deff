"""Funding rates compared honestly across venues (pure; no I/O).

* every rate is normalised from its own interval (read from the venue) to per hour and APR;
* funding is paid in discrete payments, so the income over a horizon counts each venue's
  payments from its own next payment time, not a smooth average;
* the edge subtracts both venues' taker fees, the slippage of walking both books for the
  intended size, and the cost of getting out again (fees + the same slippage on the way out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from bot.venues.port import FundingQuote, OrderBook, VenueMarket

HOURS_PER_YEAR = Decimal(24 * 365)
_HOUR_MS = 3_600_000


def per_hour(rate: Decimal, interval_hours: Decimal) -> Decimal:
    """A rate per interval as a rate per hour (0.0008 per 8 h → 0.0001 per hour)."""
    if interval_hours <= 0:
        raise ValueError("a funding interval must be positive")
    return rate / interval_hours


def apr(rate: Decimal, interval_hours: Decimal) -> Decimal:
    """Simple annual rate (no compounding): per hour × 8,760."""
    return per_hour(rate, interval_hours) * HOURS_PER_YEAR


def payments_within(
    now_ms: int, next_ms: int | None, interval_hours: Decimal, horizon_hours: Decimal
) -> int:
    """How many funding payments fall in ``(now, now + horizon]``.

    The first is at ``next_ms`` (when the venue says it), then one every interval. Without a
    next time, a whole number of intervals fits the horizon.
    """
    interval_ms = interval_hours * _HOUR_MS
    horizon_ms = horizon_hours * _HOUR_MS
    if next_ms is None:
        return int((horizon_ms / interval_ms).to_integral_value(rounding=ROUND_DOWN))
    first = Decimal(max(next_ms - now_ms, 0))
    if first > horizon_ms:
        return 0
    return 1 + int(((horizon_ms - first) / interval_ms).to_integral_value(rounding=ROUND_DOWN))


def walk(levels: Sequence[tuple[Decimal, Decimal]], quantity: Decimal) -> Decimal | None:
    """The average price of taking ``quantity`` from ``levels`` (best first); ``None`` when
    the book is too thin for it."""
    left = quantity
    cost = Decimal(0)
    for price, size in levels:
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 0:
            return cost / quantity
    return None


def mid(book: OrderBook) -> Decimal | None:
    if not book.bids or not book.asks:
        return None
    return (book.bids[0][0] + book.asks[0][0]) / 2


def common_quantity(
    a: VenueMarket, b: VenueMarket, notional: Decimal, price: Decimal
) -> Decimal | None:
    """The base quantity both legs trade: ``notional / price`` rounded down to the coarser step,
    or ``None`` when that is below either venue's minimum quantity or notional."""
    step = max(a.step, b.step)
    qty = (notional / price / step).to_integral_value(rounding=ROUND_DOWN) * step
    if qty <= 0 or qty < a.min_quantity or qty < b.min_quantity:
        return None
    if qty * price < max(a.min_notional, b.min_notional):
        return None
    return qty


@dataclass(frozen=True, slots=True)
class Leg:
    """One venue's side of a pair: its name, market rules, funding and book."""

    venue: str
    market: VenueMarket
    funding: FundingQuote
    book: OrderBook
    #: The hedge venue's id (``HEDGE_EXCHANGES``) orders for this leg go to; ``None`` for
    #: Backpack's leg.
    venue_id: str | None = None

    @property
    def rate_per_hour(self) -> Decimal:
        return per_hour(self.funding.rate, self.funding.interval_hours)


@dataclass(frozen=True, slots=True)
class Edge:
    """The expected value of holding the spread for ``horizon_hours``, in USDC.

    Short the leg that is paid more, long the other. ``problem`` says why there is no trade
    (size below a minimum, a book too thin); the rates are still shown then.
    """

    base: str
    short: Leg
    long: Leg
    spread_per_hour: Decimal  # short's rate per hour − long's: what the pair earns per hour
    spread_apr: Decimal
    quantity: Decimal
    notional: Decimal
    horizon_hours: Decimal
    funding_income: Decimal  # over the horizon, counting each venue's discrete payments
    fees: Decimal  # entry and exit taker fees on both venues
    slippage: Decimal  # walking both books, on the way in and out
    net: Decimal  # funding_income − fees − slippage
    problem: str | None = None

    @property
    def hedge(self) -> Leg:
        """The leg on the hedge venue (the one that is not Backpack's)."""
        return self.short if self.short.venue_id is not None else self.long

    @property
    def costs(self) -> Decimal:
        return self.fees + self.slippage

    @property
    def breakeven_hours(self) -> Decimal | None:
        """Hours of the current spread that pay for the round trip."""
        hourly = self.spread_per_hour * self.notional
        return self.costs / hourly if hourly > 0 else None


def edge(
    base: str,
    a: Leg,
    b: Leg,
    *,
    notional: Decimal,
    horizon_hours: Decimal,
    now_ms: int,
) -> Edge:
    """The pair's edge for ``notional`` USDC per leg over ``horizon_hours``.

    Exit slippage is estimated as the same walk on the opposite side of today's books: the
    best guess available now, and it keeps the cost of a round trip in the number.
    """
    short, long = (a, b) if a.rate_per_hour >= b.rate_per_hour else (b, a)
    spread = short.rate_per_hour - long.rate_per_hour
    zero = Decimal(0)

    def result(
        qty: Decimal, income: Decimal, fees: Decimal, slip: Decimal, problem: str | None
    ) -> Edge:
        return Edge(
            base=base,
            short=short,
            long=long,
            spread_per_hour=spread,
            spread_apr=spread * HOURS_PER_YEAR,
            quantity=qty,
            notional=qty * price if price else zero,
            horizon_hours=horizon_hours,
            funding_income=income,
            fees=fees,
            slippage=slip,
            net=income - fees - slip,
            problem=problem,
        )

    m_short, m_long = mid(short.book), mid(long.book)
    price = zero
    if m_short is None or m_long is None:
        return result(zero, zero, zero, zero, "an order book is empty")
    price = (m_short + m_long) / 2
    qty = common_quantity(short.market, long.market, notional, price)
    if qty is None:
        return result(zero, zero, zero, zero, "the size is below a venue's minimum")
    sell_in = walk(short.book.bids, qty)  # open the short: sell into bids
    buy_in = walk(long.book.asks, qty)  # open the long: buy from asks
    buy_out = walk(short.book.asks, qty)  # close the short
    sell_out = walk(long.book.bids, qty)  # close the long
    if sell_in is None or buy_in is None or buy_out is None or sell_out is None:
        return result(qty, zero, zero, zero, "a book is too thin for this size")
    slip = qty * (
        (m_short - sell_in) + (buy_in - m_long) + (buy_out - m_short) + (m_long - sell_out)
    )
    traded = (
        qty * (sell_in + buy_out) * short.market.taker_fee
        + qty * (buy_in + sell_out) * long.market.taker_fee
    )
    n_short = payments_within(
        now_ms, short.funding.next_funding_ms, short.funding.interval_hours, horizon_hours
    )
    n_long = payments_within(
        now_ms, long.funding.next_funding_ms, long.funding.interval_hours, horizon_hours
    )
    # A short receives a positive rate on its mark notional; a long pays it.
    income = qty * (
        short.funding.rate * n_short * (short.funding.mark or m_short)
        - long.funding.rate * n_long * (long.funding.mark or m_long)
    )
    return result(qty, income, traded, slip, None)
