"""The venue port: what the strategy, alerts and chat need from any perpetuals exchange.

Two implementations: :class:`bot.venues.backpack.BackpackVenue` over our ``BackpackAPI`` and
:class:`bot.venues.ccxt_venue.CcxtVenue` over any async ccxt exchange with perpetual swaps.
Everything crossing the port is a frozen dataclass of ``Decimal``; wire shapes stay inside the
adapters. Errors are the adapters' own (``BackpackError`` / ccxt's ``BaseError``) wrapped in
:class:`VenueError`, which carries the venue's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

Side = Literal["buy", "sell"]
#: How an order or a leg names the hedge venue (journal rows, strategy legs); ``None`` is
#: Backpack.
HEDGE = "hedge"


class VenueError(Exception):
    """A venue refused or failed a request; ``venue`` names it, the message says why.

    ``uncertain``: the request may have reached the venue (a timeout, a lost answer), so an
    order's fate must be looked up by its client id before anything is said or re-sent.
    """

    def __init__(self, venue: str, message: str, *, uncertain: bool = False) -> None:
        super().__init__(f"{venue}: {message}")
        self.venue = venue
        self.message = message
        self.uncertain = uncertain


@dataclass(frozen=True, slots=True)
class VenueMarket:
    """One perpetual swap's trading rules, in the venue's own symbol."""

    symbol: str  # the venue's symbol: BTC_USDC_PERP, BTC/USDT:USDT
    base: str  # BTC
    quote: str  # USDC, USDT
    settle: str  # the margin/settlement asset
    tick: Decimal
    step: Decimal
    min_quantity: Decimal
    min_notional: Decimal  # 0 when the venue has none
    taker_fee: Decimal  # fraction of notional (0.0005 = 5 bps)


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """The current funding rate of a perp, with the interval the venue pays it over."""

    symbol: str
    rate: Decimal  # per interval, fraction; positive: longs pay shorts
    interval_hours: Decimal  # read from the venue, never assumed
    next_funding_ms: int | None  # the venue's next payment time, Unix ms
    mark: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Best price first on both sides: ``(price, quantity)``."""

    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    order_id: str
    client_id: int | None
    symbol: str
    side: Side
    quantity: Decimal
    filled: Decimal
    average_price: Decimal | None
    status: Literal["open", "filled", "cancelled", "rejected"]


@dataclass(frozen=True, slots=True)
class VenuePosition:
    symbol: str
    quantity: Decimal  # signed: + long, − short
    entry_price: Decimal | None
    mark: Decimal | None
    liquidation_price: Decimal | None
    unrealized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class FundingPayment:
    symbol: str
    time_ms: int
    amount: Decimal  # in the settlement asset: + received, − paid
    rate: Decimal | None


@runtime_checkable
class Venue(Protocol):
    """A perpetuals exchange as the bot's rules see it."""

    @property
    def name(self) -> str:
        """Short display name (``backpack``, ``binanceusdm``)."""
        ...

    async def markets(self) -> dict[str, VenueMarket]:
        """Every perpetual swap, by the venue's symbol (cached by the adapter)."""
        ...

    def client_order_id(self, client_id: int) -> str:
        """The id the venue receives for the bot's ``client_id`` (the journal keeps both)."""
        ...

    async def funding(self, symbol: str) -> FundingQuote:
        """The current funding rate, its interval and the next payment time."""
        ...

    async def order_book(self, symbol: str, depth: int = 50) -> OrderBook: ...

    async def place_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        client_id: int,
        reduce_only: bool = False,
    ) -> VenueOrder:
        """A market (taker) order tagged with ``client_id`` for lookup after a lost answer."""
        ...

    async def cancel_order(self, symbol: str, order_id: str) -> None: ...

    async def order_by_client_id(self, symbol: str, client_id: int) -> VenueOrder | None:
        """The order placed with ``client_id``, or ``None`` when the venue never saw it."""
        ...

    async def positions(self) -> list[VenuePosition]: ...

    async def balances(self) -> dict[str, Decimal]:
        """Free balance per asset (the margin available for new positions)."""
        ...

    async def funding_payments(self, symbol: str | None = None) -> list[FundingPayment]:
        """Funding received (+) and paid (−) by this account, newest first."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class HistoryVenue(Venue, Protocol):
    """A venue that also serves market history (backtests): the ccxt adapter."""

    async def rate_history(self, symbol: str, since_ms: int) -> list[tuple[int, Decimal]]:
        """Settled funding rates since ``since_ms``: (payment time ms, rate), oldest first."""
        ...

    async def hourly_closes(
        self, symbol: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, Decimal]]:
        """Hourly closes: (close time ms, price), oldest first."""
        ...
