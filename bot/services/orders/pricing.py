"""Pricing a preview: markets, books (streamed when fresh), the account, fees, the hedge venue.

:class:`Pricer` is the half of the confirmation flow that reads the market and the account and
turns an intent into checked, priced legs (:func:`bot.services.orders.quote.build_leg`), and that
re-quotes them at the tap (:meth:`Pricer.drift`). It sends nothing and stores nothing; the
single-use confirmation around it is :class:`bot.services.orders.confirm.TradingService`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError, InvalidSymbol
from bot.exchange.markets import Market
from bot.services.orders.intent import (
    CloseIntent,
    Intent,
    IntentError,
    OrderIntent,
    StopIntent,
    examples,
    legs_of,
)
from bot.services.orders.quote import (
    LegPreview,
    Limits,
    MarketView,
    build_leg,
    drift,
    requote,
)
from bot.services.orders.sender import OrderSender
from bot.services.orders.stops import stops_of
from bot.venues.port import HEDGE, Venue, VenueError, VenueMarket

ZERO = Decimal(0)
BPS = Decimal("0.0001")
_FEES_TTL_S = 300.0
#: A streamed book older than this is not trusted for a re-quote (REST is asked instead).
BOOK_MAX_AGE_S = 2.0


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """The knobs from settings: mode label, limits, confirmation TTL and drift tolerance."""

    mode: str = "paper"
    max_order_notional: Decimal = Decimal(10000)
    confirm_ttl_seconds: int = 60
    price_drift_tolerance: Decimal = Decimal("0.005")
    limit_price_band: Decimal = Decimal("0.2")
    book_depth: int = 50
    #: Risk-adding orders a minute (``DESK_ORDERS_PER_MINUTE``; ``None``: no cap, the
    #: operator's desk).
    orders_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class _Fees:
    """Fee rates as fractions (the account reports basis points) and the leverage limit."""

    taker: Decimal
    maker: Decimal
    spot_taker: Decimal
    spot_maker: Decimal
    leverage: Decimal
    at: float


@dataclass
class _HedgeAccount:
    positions: dict[str, Decimal] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)
    settle: dict[str, str] = field(default_factory=dict)


@dataclass
class _Account:
    perp_positions: dict[str, Decimal] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    free_equity: Decimal = ZERO
    position_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_orders: list[dict[str, Any]] = field(default_factory=list)


class Pricer:
    """Reads what a preview needs and prices its legs (see the module docstring)."""

    def __init__(  # noqa: PLR0917 - the trading service hands its collaborators through
        self,
        exchange: BackpackAPI,
        market_data: BackpackAPI,
        sender: OrderSender,
        config: TradingConfig,
        clock: Clock,
        logger: logging.Logger,
    ) -> None:
        self.exchange = exchange
        self.market_data = market_data
        self.sender = sender
        self.config = config
        self.clock = clock
        self.logger = logger
        self._fees: _Fees | None = None

    @property
    def limits(self) -> Limits:
        return Limits(
            max_notional=self.config.max_order_notional,
            max_limit_deviation=self.config.limit_price_band,
        )

    async def price(self, intent: Intent) -> tuple[LegPreview, ...]:
        """Each leg of ``intent`` rounded, checked and priced against the book, the account,
        the fees (and the hedge venue for its legs); raises :class:`IntentError`."""
        legs = legs_of(intent)
        venues = [_venue_of(leg) for leg in legs]
        hedge_id = next((v for v in venues if v is not None), None)
        markets = [await self._market(leg) for leg in legs]
        ours = [m for m, v in zip(markets, venues, strict=True) if v is None]
        stops = any(isinstance(leg, StopIntent) for leg in legs)
        books, account, fees, hedge = await asyncio.gather(
            asyncio.gather(
                *(self._book(m.symbol, v) for m, v in zip(markets, venues, strict=True))
            ),
            self._account(ours, stops=stops),
            self._fee_rates(),
            self._hedge_account(hedge_id) if hedge_id is not None else _no_hedge_account(),
        )
        built: list[LegPreview] = []
        for leg, market, venue, (bids, asks) in zip(legs, markets, venues, books, strict=True):
            if venue is not None:
                view = self._hedge_view(market, bids, asks, hedge)
            else:
                view = self._view(market, bids, asks, account, fees)
            built.append(replace(build_leg(leg, view, self.limits), venue=venue))
        return tuple(built)

    async def _market(self, leg: OrderIntent | CloseIntent | StopIntent) -> Market:
        venue = _venue_of(leg)
        if venue is not None:
            return await self._hedge_market(leg.market, venue)
        try:
            return await self.market_data.market(leg.market)
        except InvalidSymbol as exc:
            command = (
                "close"
                if isinstance(leg, CloseIntent)
                else leg.kind
                if isinstance(leg, StopIntent)
                else leg.side
            )
            raise IntentError(
                f"Unknown market {leg.market!r}. {_hint(exc.message)}".strip(), examples(command)
            ) from None

    async def _book(
        self, symbol: str, venue: str | None = None
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The book from the stream when it is in sync and fresh (no round trip on the tap's
        path), else over REST. A preview starts the stream for its market. The hedge venue's
        book comes through its venue port."""
        if venue is not None:
            ob = await self._hedge(venue).order_book(symbol, self.config.book_depth)
            return list(ob.bids), list(ob.asks)
        local = self.market_data.books.get(symbol)
        if local is not None and local.fresh(BOOK_MAX_AGE_S):
            top = local.top(self.config.book_depth)
            return [(p, q) for p, q in top["bids"]], [(p, q) for p, q in top["asks"]]
        if local is None:
            try:
                await self.market_data.watch_order_book(symbol)
            except BackpackError as exc:  # the stream is a speed-up; REST always works
                self.logger.info("no streamed book for %s: %s", symbol, exc)
        book = await self.market_data.get_orderbook(symbol, limit=self.config.book_depth)
        bids = [(Decimal(p), Decimal(q)) for p, q in book["bids"]]
        asks = [(Decimal(p), Decimal(q)) for p, q in book["asks"]]
        return bids, asks

    async def _account(self, markets: Sequence[Market], *, stops: bool = False) -> _Account:
        acc = _Account()
        calls: list[Awaitable[Any]] = []
        if any(m.is_perp for m in markets):
            calls += [self.exchange.get_positions(), self.exchange.get_collateral()]
        if any(not m.is_perp for m in markets):
            calls.append(self.exchange.get_balances())
        if stops:
            calls.append(self.exchange.get_open_orders())
        results = list(await asyncio.gather(*calls))
        if stops:
            acc.open_orders = list(results.pop())
        i = 0
        if any(m.is_perp for m in markets):
            positions, collateral = results[0], results[1]
            i = 2
            acc.perp_positions = {p["symbol"]: Decimal(p["quantity"]) for p in positions}
            acc.position_rows = {p["symbol"]: dict(p) for p in positions}
            acc.free_equity = Decimal(str(collateral.get("netEquityAvailable") or 0))
        if i < len(results):
            acc.balances = {b["asset"]: Decimal(b["available"]) for b in results[i]}
        return acc

    def _hedge(self, venue: str = HEDGE) -> Venue:
        """The hedge venue orders can go to (the sender's); refuses when there is none."""
        found = self.sender.venue(venue)
        if found is None:
            raise IntentError(
                "Orders on a second venue need HEDGE_EXCHANGE (live), or EXCHANGE=sim in paper "
                "mode; see the README.",
                "",
            )
        return found

    async def _hedge_market(self, symbol: str, venue: str = HEDGE) -> Market:
        try:
            vm: VenueMarket | None = (await self._hedge(venue).markets()).get(symbol)
        except VenueError as exc:
            raise IntentError(f"The hedge venue did not answer ({exc.message}).", "") from exc
        if vm is None:
            raise IntentError(f"The hedge venue has no perp {symbol}.", "")
        return Market(
            symbol=vm.symbol,
            base=vm.base,
            quote=vm.quote,
            market_type="PERP",
            tick_size=vm.tick,
            step_size=vm.step,
            min_quantity=vm.min_quantity,
            max_quantity=None,
            min_price=None,
            max_price=None,
            funding_interval_ms=None,
            open=True,
        )

    async def _hedge_account(self, venue_id: str = HEDGE) -> _HedgeAccount:
        venue = self._hedge(venue_id)
        positions, balances, markets = await asyncio.gather(
            venue.positions(), venue.balances(), venue.markets()
        )
        return _HedgeAccount(
            positions={p.symbol: p.quantity for p in positions},
            balances=balances,
            fees={s: m.taker_fee for s, m in markets.items()},
            settle={s: m.settle for s, m in markets.items()},
        )

    @staticmethod
    def _hedge_view(
        market: Market,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        acc: _HedgeAccount,
    ) -> MarketView:
        """The hedge venue's leverage is not known here: its free balance must cover the
        whole notional (a conservative margin check)."""
        fee = acc.fees.get(market.symbol, ZERO)
        return MarketView(
            market=market,
            bids=bids,
            asks=asks,
            position=acc.positions.get(market.symbol, ZERO),
            available=acc.balances.get(acc.settle.get(market.symbol, market.quote), ZERO),
            taker_fee=fee,
            maker_fee=fee,
            leverage=Decimal(1),
        )

    async def _fee_rates(self) -> _Fees:
        t = self.clock.time()
        if self._fees is None or t - self._fees.at > _FEES_TTL_S:
            info = await self.exchange.get_account_info()

            def bps(key: str) -> Decimal:
                return Decimal(str(info.get(key) or 0)) * BPS

            self._fees = _Fees(
                taker=bps("futuresTakerFee"),
                maker=bps("futuresMakerFee"),
                spot_taker=bps("spotTakerFee"),
                spot_maker=bps("spotMakerFee"),
                leverage=Decimal(str(info.get("leverageLimit") or 1)) or Decimal(1),
                at=t,
            )
        return self._fees

    def _view(
        self,
        market: Market,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        account: _Account,
        fees: _Fees,
    ) -> MarketView:
        if market.is_perp:
            row = account.position_rows.get(market.symbol, {})
            position = account.perp_positions.get(market.symbol, ZERO)
            mark = _opt(row.get("markPrice"))
            mine = [o for o in account.open_orders if o.get("symbol") == market.symbol]
            return MarketView(
                market=market,
                bids=bids,
                asks=asks,
                position=position,
                available=account.free_equity,
                taker_fee=fees.taker,
                maker_fee=fees.maker,
                leverage=fees.leverage,
                entry_price=_opt(row.get("entryPrice")),
                mark_price=mark,
                liquidation_price=_opt(row.get("liquidationPrice")),
                stops=tuple((s.kind, s.id) for s in stops_of(position, mark or ZERO, mine) if mark),
            )
        return MarketView(
            market=market,
            bids=bids,
            asks=asks,
            position=account.balances.get(market.base, ZERO),
            available=account.balances.get(market.quote, ZERO),
            taker_fee=fees.spot_taker,
            maker_fee=fees.spot_maker,
            leverage=Decimal(1),
        )

    async def drift(self, legs: Sequence[LegPreview]) -> Decimal | None:
        """The largest relative price move since the preview when it exceeds the tolerance."""
        books = await asyncio.gather(*(self._book(leg.symbol, leg.venue) for leg in legs))
        worst = ZERO
        for leg, (bids, asks) in zip(legs, books, strict=True):
            if leg.is_stop:
                # Nothing trades now; but if the market crossed the trigger since the preview,
                # the stop would fire at once: re-preview, which refuses it with the reason.
                if bids and asks and leg.trigger_price is not None:
                    mid = (bids[0][0] + asks[0][0]) / 2
                    below = (leg.stop == "sl") != leg.is_buy  # fires when the price falls to it
                    if (mid <= leg.trigger_price) if below else (mid >= leg.trigger_price):
                        return Decimal(1)
                continue
            view = MarketView(
                market=_stub_market(leg),
                bids=bids,
                asks=asks,
                position=leg.position_before,
                available=leg.available,
                taker_fee=ZERO,
                maker_fee=ZERO,
                leverage=Decimal(1),
            )
            try:
                worst = max(worst, drift(leg.est_price, requote(leg, view)))
            except IntentError:
                return Decimal(1)  # the book can no longer fill it: definitely re-preview
        return worst if worst > self.config.price_drift_tolerance else None


def _stub_market(leg: LegPreview) -> Market:
    """Enough of a market for re-pricing a built leg (rules were checked at preview time)."""
    return Market(
        symbol=leg.symbol,
        base=leg.base,
        quote=leg.quote,
        market_type="PERP" if leg.perp else "SPOT",
        tick_size=Decimal(1),
        step_size=Decimal(1),
        min_quantity=ZERO,
        max_quantity=None,
        min_price=None,
        max_price=None,
        funding_interval_ms=None,
        open=True,
    )


def _venue_of(leg: OrderIntent | CloseIntent | StopIntent) -> str | None:
    return leg.venue if isinstance(leg, OrderIntent) else None


async def _no_hedge_account() -> _HedgeAccount:
    return _HedgeAccount()


def _opt(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return d if d > 0 else None


def _hint(message: str) -> str:
    """The "Try one of: …" part of the client's unknown-symbol message."""
    idx = message.find("Try one of")
    return message[idx:] + "." if idx >= 0 else ""
