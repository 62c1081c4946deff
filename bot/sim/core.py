"""The exchange's shared state and event plumbing; every engine part holds one :class:`Exchange`."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, SystemClock
from bot.sim.book import Market
from bot.sim.markets import MarketSpec, default_markets
from bot.sim.model import (
    DEFAULT_BALANCE,
    FEES,
    HOUR,
    Account,
    D,
    Listener,
    Order,
    Wants,
    bad_request,
)

if TYPE_CHECKING:
    from bot.sim.conditional import Conditional
    from bot.sim.funding import Funding
    from bot.sim.history import History
    from bot.sim.margin import Margin
    from bot.sim.matching import Matching
    from bot.sim.moves import MarketMoves
    from bot.sim.snapshot import Snapshot
    from bot.sim.streams import Streams
    from bot.sim.validation import Validation


class Exchange:
    """Markets, accounts, id counters, the clock and listeners; and the parts that act on them."""

    history: History
    streams: Streams
    moves: MarketMoves
    margin: Margin
    matching: Matching
    validation: Validation
    conditional: Conditional
    funding: Funding
    snapshot: Snapshot

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
        self.open_interest_interval = 60.0  # seconds between ``openInterest`` frames
        self.listeners: list[tuple[Listener, Wants | None]] = []
        #: Whether any listener wants a stream; asked before every event is built, so with
        #: one listener it is that listener's own test (a set's ``__contains__`` for the server).
        self.wanted: Wants = self._any_wants
        self.specs = markets or default_markets()
        self.on_account_change: Callable[[], None] | None = None
        #: Fee rates in basis points, by ``FEES`` key; a venue face may charge its own.
        self.fees: dict[str, str] = dict(FEES)

    def reset(self) -> None:
        """Back to the state right after start: fresh markets, no accounts."""
        self.rng = random.Random(self.seed)
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}
        self.next_order_id = 8_284_661_092
        self.next_user_id = 1_813_870
        self.next_position_id = 5_479_295_502
        self.next_fill_id = 2_959_284
        self.reset_tracking()
        self.firing = False
        now = self.clock.time()
        for spec in self.specs:
            self.history.add_market(spec, now)
        self.next_funding = self.next_boundary(now)

    def add_listener(self, listener: Listener, wants: Wants | None = None) -> Callable[[], None]:
        """Receive every event (WS wire payloads); returns a function that unsubscribes.

        ``wants(stream)`` lets a listener say which streams it needs; payloads nobody wants are
        never built, which is most of the engine's cost when nobody is watching.
        """
        entry = (listener, wants)
        self.listeners.append(entry)
        self._rewire()

        def remove() -> None:
            if entry in self.listeners:
                self.listeners.remove(entry)
                self._rewire()

        return remove

    def _rewire(self) -> None:
        sole = self.listeners[0][1] if len(self.listeners) == 1 else None
        self.wanted = sole if sole is not None else self._any_wants

    def _any_wants(self, stream: str) -> bool:
        for _, wants in self.listeners:  # noqa: SIM110 - a plain loop: runs for every event
            if wants is None or wants(stream):
                return True
        return False

    def emit(self, stream: str, account: str | None, data: dict[str, Any]) -> None:
        """Hand one event to every listener that wants its stream."""
        for listener, wants in self.listeners:
            if wants is None or wants(stream):
                listener(stream, account, data)

    def now_us(self) -> int:
        return int(self.clock.time() * 1_000_000)

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def market(self, symbol: str) -> Market:
        m = self.markets.get(symbol)
        if m is None:
            raise bad_request("Invalid market symbol")
        return m

    def account(self, key: str) -> Account:
        acc = self.accounts.get(key)
        if acc is None:
            acc = Account(key=key, user_id=self.next_user_id)
            self.next_user_id += 1
            acc.bal("USDC")[0] = self.initial_balance
            self.accounts[key] = acc
            self.touch(key)
            self.changed()
        return acc

    def changed(self) -> None:
        if self.balance_dirty:
            self.streams.publish_balances()
        if self.on_account_change is not None:
            self.on_account_change()

    def touch(self, key: str) -> None:
        self.touched_accounts.add(key)
        self.balance_dirty.add(key)

    def next_boundary(self, now: float) -> float:
        return (math.floor(now / self.funding_interval) + 1) * self.funding_interval

    def reset_tracking(self) -> None:
        self.touched_orders: dict[str, Order] = {}
        self.touched_accounts: set[str] = set()
        self.balance_dirty: set[str] = set()
        self.full_snapshot = True
        #: A control-API move (price, funding) the store saves at once, not with the walk.
        self.markets_moved = False
