"""The simulator's engine: markets, order books, accounts, matching and funding. No I/O.

Everything here returns wire-shaped dicts (decimals as strings, the exchange's field names and time
units) so the HTTP/WS layer stays a thin router. Events for the WebSocket are pushed to listeners
as ``(stream, account_key | None, data)``; ``account_key`` is set for private streams.

:class:`Engine` is a facade over parts with one job each, all sharing one
:class:`~bot.sim.core.Exchange` (the state and the event plumbing):

=================  ===================================================================
``book``           one market's ladder and resting orders (:class:`~bot.sim.book.Market`)
``moves``          the random walk, control-API moves, mirrored books, public endpoints
``validation``     an order request becomes an :class:`~bot.sim.model.Order` or an error
``matching``       run, take, fill, rest, expire, cancel, query orders
``margin``         balances, margin, positions and their histories
``conditional``    trigger orders and attached stop-loss/take-profit
``funding``        settlement, rates, payments
``streams``        every WebSocket payload
``history``        generated candles, funding and trades; klines
``snapshot``       the engine as data (state, dumps, the journal of ``bot.sim.store``)
=================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bot.clock import Clock
from bot.sim.book import Market
from bot.sim.conditional import Conditional
from bot.sim.core import Exchange
from bot.sim.funding import Funding
from bot.sim.history import History
from bot.sim.margin import Margin
from bot.sim.markets import MarketSpec
from bot.sim.matching import Matching
from bot.sim.model import (
    DEFAULT_BALANCE,
    HOUR,
    Account,
    SimError,
    bad_request,
    parse_error,
)
from bot.sim.moves import MarketMoves
from bot.sim.snapshot import Snapshot
from bot.sim.streams import Streams
from bot.sim.validation import Validation

__all__ = ["Engine", "SimError", "bad_request", "parse_error"]


class Engine:
    """A whole exchange in memory, deterministic for a seed.

    The operations are the parts' own methods, bound here under the names the server, paper
    trading and the tests use; the state lives in :attr:`ex`.
    """

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
        ex = self.ex = Exchange(
            seed=seed,
            balance=balance,
            funding_interval=funding_interval,
            clock=clock,
            markets=markets,
            volatility=volatility,
        )
        ex.history = History(ex)
        ex.streams = Streams(ex)
        ex.moves = MarketMoves(ex)
        ex.margin = Margin(ex)
        ex.validation = Validation(ex)
        ex.matching = Matching(ex)
        ex.conditional = Conditional(ex)
        ex.funding = Funding(ex)
        ex.snapshot = Snapshot(ex)
        ex.reset()
        # lifecycle and events
        self.reset = ex.reset
        self.add_listener = ex.add_listener
        self.emit = ex.emit
        self.market = ex.market
        self.account = ex.account
        # market moves and public market data
        self.load_markets = ex.moves.load_markets
        self.step = ex.moves.step
        self.roll_candles = ex.moves.roll_candles
        self.set_price = ex.moves.set_price
        self.set_funding = ex.moves.set_funding
        self.mirror = ex.moves.mirror
        self.markets_wire = ex.moves.markets_wire
        self.assets = ex.moves.assets
        self.ticker = ex.moves.ticker
        self.depth = ex.moves.depth
        self.trades = ex.moves.trades
        self.mark_prices = ex.moves.mark_prices
        self.open_interest = ex.moves.open_interest
        self.klines = ex.history.klines
        self.publish_periodic = ex.streams.publish_periodic
        self.position_snapshot = ex.streams.position_snapshot
        # accounts, orders, positions
        self.capital = ex.margin.capital
        self.account_settings = ex.margin.account_settings
        self.collateral = ex.margin.collateral
        self.positions = ex.margin.positions
        self.max_order_quantity = ex.margin.max_order_quantity
        self.execute = ex.matching.execute
        self.get_order = ex.matching.get_order
        self.cancel = ex.matching.cancel
        self.cancel_all = ex.matching.cancel_all
        self.open_orders = ex.matching.open_orders
        self.check_triggers = ex.conditional.check_triggers
        # funding and histories
        self.settle_funding = ex.funding.settle_funding
        self.maybe_settle = ex.funding.maybe_settle
        self.funding_rates = ex.funding.funding_rates
        self.funding_history = ex.funding.funding_history
        self.fill_history = ex.matching.fill_history
        self.order_history = ex.matching.order_history
        self.settlement_history = ex.margin.settlement_history
        self.position_history = ex.margin.position_history
        # the engine as data
        self.state = ex.snapshot.state
        self.dump = ex.snapshot.dump
        self.load = ex.snapshot.load
        self.dump_data = ex.snapshot.dump_data
        self.load_data = ex.snapshot.load_data
        self.take_changes = ex.snapshot.take_changes
        self.apply_changes = ex.snapshot.apply_changes
        self.needs_snapshot = ex.snapshot.needs_snapshot
        self.take_market_changes = ex.snapshot.take_market_changes
        self.apply_markets = ex.snapshot.apply_markets
        self.markets_moved = ex.snapshot.markets_moved

    def wanted(self, stream: str) -> bool:
        """Whether any listener wants ``stream``."""
        return self.ex.wanted(stream)

    @property
    def markets(self) -> dict[str, Market]:
        return self.ex.markets

    @property
    def accounts(self) -> dict[str, Account]:
        return self.ex.accounts

    @property
    def seed(self) -> int:
        return self.ex.seed

    @property
    def funding_interval(self) -> int:
        return self.ex.funding_interval

    @property
    def next_funding(self) -> float:
        return self.ex.next_funding

    @property
    def next_order_id(self) -> int:
        return self.ex.next_order_id

    @property
    def on_account_change(self) -> Callable[[], None] | None:
        """Called after every change to an account (the server saves and releases frames)."""
        return self.ex.on_account_change

    @on_account_change.setter
    def on_account_change(self, callback: Callable[[], None] | None) -> None:
        self.ex.on_account_change = callback

    @property
    def open_interest_interval(self) -> float:
        """Seconds between ``openInterest`` frames (60 on the exchange)."""
        return self.ex.open_interest_interval

    @open_interest_interval.setter
    def open_interest_interval(self, seconds: float) -> None:
        self.ex.open_interest_interval = seconds
