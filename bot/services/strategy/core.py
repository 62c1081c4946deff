"""What every part of the strategy service shares: its dependencies and lock, the clock, the
account's fees, the market snapshot a decision reads, and the executor whose legs go through
the journaled order path."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.exchange.markets import round_quantity
from bot.faults import crash_point
from bot.services.account.journal import JournalService
from bot.services.orders.confirm import TradingService
from bot.services.orders.sender import OrderSender, WireOrder
from bot.services.strategy.cross import CrossDesk
from bot.services.strategy.values import BOOK_DEPTH, ORIGIN, STEP_LEG, leg_fill
from bot.storage.strategy import StrategyStore
from bot.strategy.executor import Executor, LegFill
from bot.strategy.model import (
    BPS,
    HOUR_MS,
    ONE,
    ZERO,
    Action,
    Fees,
    Leg,
    Level,
    MarketSnapshot,
    PerpSnapshot,
    Portfolio,
    StrategyConfig,
)

log = logging.getLogger("bot.strategy")


def _levels(rows: list[list[Decimal]]) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in rows)


class StrategyCore:
    """The strategy's dependencies and shared state (one per service)."""

    def __init__(
        self,
        store: StrategyStore,
        market_api: BackpackAPI,
        account_api: BackpackAPI,
        journal: JournalService,
        clock: Clock,
        *,
        trading_mode: str,
        orders: OrderSender,
        trading: TradingService,
        confirm_ttl_seconds: int,
        cross: CrossDesk | None,
    ) -> None:
        self.store = store
        self.market_api = market_api
        self.account_api = account_api
        self.journal = journal
        self.clock = clock
        self.trading_mode = trading_mode
        self.confirm_ttl_ms = confirm_ttl_seconds * 1000
        self.orders = orders
        self.trading = trading
        self.cross = cross
        self.lock = asyncio.Lock()
        self._fees: Fees | None = None
        #: When the last cycle began (``/health``); ``None`` until the first one.
        self.last_cycle_ms: int | None = None

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    async def fees(self) -> Fees:
        """Taker fees from the account (basis points on the wire); defaults when unknown."""
        if self._fees is None:
            try:
                info = await self.account_api.get_account_info()
                self._fees = Fees(
                    perp_taker=Decimal(str(info["futuresTakerFee"])) * BPS,
                    spot_taker=Decimal(str(info["spotTakerFee"])) * BPS,
                )
            except (BackpackError, KeyError, ArithmeticError) as exc:
                log.warning("account fees unavailable (%s); assuming tier-1 fees", exc)
                return Fees()
        return self._fees

    async def snapshot(self, config: StrategyConfig, portfolio: Portfolio) -> MarketSnapshot:
        """Every allowed perp; books only where a trade is possible (|rate| > entry, or held)."""
        api = self.market_api
        markets = await api.load_markets()
        marks, tickers, fees = await asyncio.gather(
            api.get_mark_prices(), api.get_tickers(), self.fees()
        )
        volume = {t["symbol"]: t.get("quoteVolume") for t in tickers}
        last = {t["symbol"]: t.get("lastPrice") for t in tickers}
        held = {p.symbol for p in portfolio.positions}
        rows = []
        for m in marks:
            sym = m["symbol"]
            market = markets.get(sym)
            if market is None or not market.is_perp or "fundingRate" not in m:
                continue
            rows.append((m, market))
        wanted: set[str] = set()
        for m, market in rows:
            rate = Decimal(m["fundingRate"])
            tradable = abs(rate) > config.entry_rate and market.base
            if market.symbol in held or tradable:
                wanted.add(market.symbol)
                spot = f"{market.base}_{market.quote}"
                if spot in markets:
                    wanted.add(spot)
        books_list = await asyncio.gather(
            *(api.get_orderbook(s, limit=BOOK_DEPTH) for s in sorted(wanted))
        )
        books = dict(zip(sorted(wanted), books_list, strict=True))
        perps: list[PerpSnapshot] = []
        for m, market in rows:
            sym = market.symbol
            spot_sym = f"{market.base}_{market.quote}"
            spot_market = markets.get(spot_sym)
            book = books.get(sym)
            spot_book = books.get(spot_sym)
            interval = (
                Decimal(market.funding_interval_ms) / HOUR_MS if market.funding_interval_ms else ONE
            )
            vol = volume.get(sym)
            perps.append(
                PerpSnapshot(
                    symbol=sym,
                    base=market.base,
                    mark=Decimal(m["markPrice"]),
                    funding_rate=Decimal(m["fundingRate"]),
                    funding_interval_hours=interval,
                    volume_24h=vol if isinstance(vol, Decimal) else ZERO,
                    step_size=market.step_size,
                    min_quantity=market.min_quantity,
                    bids=_levels(book["bids"]) if book else (),
                    asks=_levels(book["asks"]) if book else (),
                    spot_symbol=spot_sym if spot_market else None,
                    spot_step_size=spot_market.step_size if spot_market else None,
                    spot_min_quantity=spot_market.min_quantity if spot_market else None,
                    spot_bids=_levels(spot_book["bids"]) if spot_book else (),
                    spot_asks=_levels(spot_book["asks"]) if spot_book else (),
                    spot_price=last.get(spot_sym) if spot_market else None,
                    next_funding_ms=int(m.get("nextFundingTimestamp") or 0),
                )
            )
        return MarketSnapshot(perps=tuple(perps), fees=fees, taken_at_ms=self.now_ms())

    def executor(self, aid: str, user_id: int, chat_id: int) -> Executor:
        """An executor whose legs go through the journaled order path under the action's id."""

        async def send(leg: Leg, step: str) -> LegFill:
            wire = WireOrder(
                leg.symbol,
                "BUY" if leg.side == "Bid" else "SELL",
                leg.quantity,
                order_type="MARKET",
                reduce_only=leg.reduce_only,
                venue=leg.venue,
            )
            outcome = await self.orders.place(
                wire,
                token=aid,
                leg=STEP_LEG[step],
                user_id=user_id,
                chat_id=chat_id,
                origin=f"{ORIGIN}{aid}",
            )
            if step == "0":
                crash_point("first-leg")
            return leg_fill(leg, outcome)

        return Executor(send)

    async def sync_journal(self) -> None:
        try:
            await self.journal.sync()
        except BackpackError as exc:
            log.warning("journal sync after a strategy trade failed: %s", exc)

    async def prepare(self, action: Action) -> Action:
        """Closing a spot hedge sells what the account really holds (a spot buy's fee is
        charged in the base asset, so slightly less than was bought)."""
        if action.kind != "close":
            return action
        legs: list[Leg] = []
        balances = {b["asset"]: b["available"] for b in await self.account_api.get_balances()}
        markets = await self.account_api.load_markets()
        for leg in action.legs:
            market = markets.get(leg.symbol)
            if market is not None and not market.is_perp and leg.side == "Ask":
                have = Decimal(str(balances.get(market.base, ZERO)))
                qty = round_quantity(market, min(leg.quantity, have))
                if qty < market.min_quantity:
                    continue
                legs.append(replace(leg, quantity=qty))
            else:
                legs.append(leg)
        return replace(action, legs=tuple(legs))
