"""Each desk's private services, built on first use by one factory (part of the composition
root, :mod:`bot.app`).

A desk's account client, order path, trading, journal, strategy, watchers, fill feed and
recovery are its own; what is public (settings, clock, database, market data, the hedge venues'
public data, alerts, the outbox, the registry) is shared (:class:`Shared`) and the same object
in every desk's :class:`~bot.container.Services`.

The account client is the only place a desk's keys are open: the operator's come from the
environment, another desk's from its sealed row (:class:`~bot.keyring.desk_keys.DeskKeys`), a
paper desk's from its own paper key on the shared paper engine. A desk is paper until it trades
on its own Backpack keys on a live bot.

Idle desks are evicted (their clients closed) when nothing of theirs is open; a desk with work
left, an open position or order, or a strategy switched on stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.alerts.service import AlertService
from bot.clock import Clock, now_ms
from bot.container import Services
from bot.desks.connect import VenueUrls
from bot.desks.model import OPERATOR, Desk
from bot.desks.registry import Desks
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import AuthError
from bot.keyring.desk_keys import PAPER_VENUES, DeskKeys
from bot.paper import PaperExchange, new_signing_secret
from bot.services.access import Role
from bot.services.account.journal import JournalService
from bot.services.account.views import AccountService
from bot.services.market import MarketService
from bot.services.notices.fills import FillFeed
from bot.services.notices.outbox import Notices
from bot.services.notices.watchers import WatchConfig, WatcherService
from bot.services.orders.confirm import TradingConfig, TradingService
from bot.services.orders.sender import OrderSender
from bot.services.recovery import RecoveryService
from bot.services.strategy.arb import ArbConfig, ArbService
from bot.services.strategy.control import StrategyService
from bot.services.strategy.cross import CrossDesk
from bot.settings import Settings
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.desk_locks import DeskLocks
from bot.storage.events import EventStore
from bot.storage.strategy import StrategyStore
from bot.storage.trading import TradingStore
from bot.venues.backpack import BackpackVenue
from bot.venues.opening import OpenVenues, desk_venue

log = logging.getLogger("bot.desks")

#: The sealed row of a desk's own paper key on the shared paper engine.
PAPER_VENUE = next(iter(PAPER_VENUES))
#: The sealed row of a desk's Backpack keys (fields ``api_key``, ``api_secret``).
BACKPACK = "backpack"
#: The sealed row of a desk's Hyperliquid wallet (ccxt's ``walletAddress``, ``privateKey``).
HYPERLIQUID = "hyperliquid"


@dataclass
class Shared:
    """What every desk uses and nobody owns alone: built once by the composition root."""

    settings: Settings
    clock: Clock
    db: Database
    desks: Desks
    keys: DeskKeys
    market_api: BackpackAPI
    alert_store: AlertStore
    alerts: AlertService
    outbox: Notices
    hedges: OpenVenues
    #: The operator's account client (environment keys, or the operator's paper account).
    operator_api: BackpackAPI
    paper: PaperExchange | None = None
    #: The paper engine for paper desks on a live bot (started when the first one is built).
    paper_for_desks: PaperExchange | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: One desk's orders, cycle and recovery at a time: in-process by default (one process);
    #: ``DeskLocks.of(db)`` for the multi-process set on PostgreSQL (``bot.processes``).
    locks: DeskLocks = field(default_factory=DeskLocks)


@dataclass
class _Loaded:
    services: Services
    stack: contextlib.AsyncExitStack
    used_ms: int


#: How long a dropped desk's clients stay open for the requests already on their way.
RETIRE_GRACE_MS = 30_000

#: Called once a desk's services exist (its streams start there); set by the composition root.
DeskHook = Callable[[Services], Awaitable[None]]


class DeskFactory:
    """``await factory.get(desk_id)`` → that desk's :class:`~bot.container.Services`."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.on_built: list[DeskHook] = []
        self._loaded: dict[str, _Loaded] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._paper_lock = asyncio.Lock()
        #: Desks dropped but not yet closed (see :meth:`drop`).
        self._retired: list[_Loaded] = []
        #: Desks whose own keys the exchange refused since the last look (see ``jobs.desks``).
        self.refused: set[str] = set()

    def public_watchers(self, operator: Services) -> WatcherService:
        """The watchers of public data (a silent price stream, the daily digest): once for
        every member of any desk, not once per desk."""
        sh, s, desks = self.shared, self.shared.settings, self.shared.desks

        def everyone() -> dict[int, Role]:
            out: dict[int, Role] = {}
            for desk in desks.all():
                for user, role in desks.members(desk.id).items():
                    out.setdefault(user, role)
            return out

        config = WatchConfig(
            members=everyone,
            funding_notice_minutes=s.funding_notice_minutes,
            liquidation_warning_distance=s.liquidation_warning_distance,
            stale_stream_seconds=s.stale_stream_seconds,
        )
        return WatcherService(
            config,
            sh.alerts,
            sh.alert_store,
            sh.market_api,
            operator.account_api,
            operator.account,
            sh.clock,
        )

    def loaded(self) -> list[Services]:
        """The desks built now, operator first."""
        return [d.services for d in self._loaded.values()]

    def peek(self, desk_id: str) -> Services | None:
        """The desk's services if they are built, without building them."""
        d = self._loaded.get(desk_id)
        return d.services if d is not None else None

    async def get(self, desk_id: str) -> Services:
        """The desk's services, built now when they are not (raises ``KeyError`` for a desk
        the registry does not know)."""
        loaded = self._loaded.get(desk_id)
        if loaded is None:
            lock = self._locks.setdefault(desk_id, asyncio.Lock())
            async with lock:
                loaded = self._loaded.get(desk_id)
                if loaded is None:
                    desk = self.shared.desks.get(desk_id)
                    if desk is None:
                        raise KeyError(desk_id)
                    loaded = await self._build(desk)
                    self._loaded[desk_id] = loaded
                    for hook in self.on_built:
                        await hook(loaded.services)
        loaded.used_ms = now_ms(self.shared.clock)
        return loaded.services

    async def drop(self, desk_id: str) -> None:
        """Retire a desk's services (its keys changed or were wiped, or it idled): the next use
        builds it anew with what is stored then. The old clients are closed only after
        :data:`RETIRE_GRACE_MS`, so a request already on its way (an order being sent) ends
        with its answer rather than a closed client; :meth:`reap` closes them."""
        lock = self._locks.setdefault(desk_id, asyncio.Lock())
        async with lock:
            loaded = self._loaded.pop(desk_id, None)
            if loaded is not None:
                loaded.used_ms = now_ms(self.shared.clock)
                self._retired.append(loaded)

    async def reap(self, *, everything: bool = False) -> int:
        """Close the retired desks' clients whose grace has passed (all with ``everything``);
        returns how many were closed."""
        cutoff = now_ms(self.shared.clock) - RETIRE_GRACE_MS
        due = [d for d in self._retired if everything or d.used_ms <= cutoff]
        self._retired = [d for d in self._retired if d not in due]
        for loaded in due:
            await loaded.stack.aclose()
        return len(due)

    async def evict_idle(self, idle_ms: int, busy: Callable[[Services], Awaitable[bool]]) -> int:
        """Close the desks unused for ``idle_ms`` that ``busy`` says have nothing open; the
        operator's desk always stays. Returns how many were closed."""
        cutoff = now_ms(self.shared.clock) - idle_ms
        closed = 0
        for desk_id, loaded in list(self._loaded.items()):
            if desk_id == OPERATOR or loaded.used_ms > cutoff:
                continue
            if await busy(loaded.services):
                continue
            await self.drop(desk_id)
            closed += 1
        return closed

    async def close(self) -> None:
        """Close every desk's clients (shutdown)."""
        await self.reap(everything=True)
        for desk_id in reversed(list(self._loaded)):
            loaded = self._loaded.pop(desk_id)
            await loaded.stack.aclose()
        for close in reversed(self.shared.closers):
            await close()
        self.shared.closers.clear()
        self.shared.paper_for_desks = None

    # -- building ---------------------------------------------------------------------------

    async def _build(self, desk: Desk) -> _Loaded:
        stack = contextlib.AsyncExitStack()
        try:
            services = await self._services(desk, stack)
        except BaseException:
            await stack.aclose()
            raise
        log.info("desk %s ready (%s)", desk.id, services.trading_mode)
        return _Loaded(services, stack, now_ms(self.shared.clock))

    async def _account(
        self, desk: Desk, stack: contextlib.AsyncExitStack
    ) -> tuple[BackpackAPI, str, PaperExchange | None]:
        """The desk's account client, its mode and the paper engine it trades on (if any)."""
        sh, s = self.shared, self.shared.settings
        if desk.id == OPERATOR:
            return sh.operator_api, s.trading_mode, sh.paper
        if not s.paper:
            keys = await sh.keys.get(desk.id, BACKPACK)
            if keys is not None:
                api = BackpackAPI(
                    keys["api_key"],
                    keys["api_secret"],
                    s.backpack_api_url,
                    s.backpack_ws_url,
                    logging.getLogger("bot.exchange"),
                    clock=sh.clock,
                    stream_silence_timeout=s.stale_stream_seconds,
                )
                stack.push_async_callback(api.close)
                desk_id = desk.id

                def refused(_exc: AuthError) -> None:
                    self.refused.add(desk_id)

                api.on_key_refused.append(refused)
                return api, "live", None
        paper = await self._paper_engine()
        fields = await sh.keys.get(desk.id, PAPER_VENUE)
        if fields is None:
            fields = {"secret": new_signing_secret()}
            await sh.keys.put(desk.id, PAPER_VENUE, fields, hint="paper")
        api = paper.client_for(fields["secret"])
        stack.push_async_callback(api.close)
        return api, "paper", paper

    async def _own_hedges(self, desk: Desk, stack: contextlib.AsyncExitStack) -> OpenVenues:
        """A desk's hedge venues: the operator's are compared, never traded (they hold the
        operator's credentials); a venue the desk connected its own keys to trades, on a live
        bot."""
        sh, s = self.shared, self.shared.settings
        own = OpenVenues(venues=dict(sh.hedges.venues))
        if s.paper:
            return own
        creds = await sh.keys.get(desk.id, HYPERLIQUID)
        if creds is not None:
            url = VenueUrls.from_settings(s).hyperliquid
            venue = desk_venue(s, stack, HYPERLIQUID, json.dumps(creds), url)
            # First (the desk's default hedge), and in place of the operator's account there.
            others = {k: v for k, v in own.venues.items() if k != HYPERLIQUID}
            own.venues = {HYPERLIQUID: venue, **others}
            own.tradable.add(HYPERLIQUID)
        return own

    async def _paper_engine(self) -> PaperExchange:
        """The shared paper engine: the bot's own in paper mode, else started on first need."""
        sh = self.shared
        if sh.paper is not None:
            return sh.paper
        async with self._paper_lock:
            if sh.paper_for_desks is None:
                paper = PaperExchange(sh.settings, sh.clock)
                account, market = await paper.start(sh.db)
                sh.closers += [account.close, market.close, paper.stop]
                sh.paper_for_desks = paper
            return sh.paper_for_desks

    async def _services(self, desk: Desk, stack: contextlib.AsyncExitStack) -> Services:
        sh, s = self.shared, self.shared.settings
        account_api, mode, paper = await self._account(desk, stack)
        market_api = sh.market_api
        primary = BackpackVenue(account_api, market_api)
        operator = desk.id == OPERATOR
        hedges = sh.hedges if operator else await self._own_hedges(desk, stack)
        hedge = hedges.first
        tradable = frozenset(hedges.tradable)
        hedge_orders = (
            hedge if hedge is not None and next(iter(hedges.venues)) in tradable else None
        )
        arb_service = (
            ArbService(
                primary,
                hedge,
                ArbConfig(
                    s.arb_notional,
                    s.arb_horizon_hours,
                    tuple(s.hedge_symbols),
                    min_open_interest=s.arb_min_open_interest,
                    min_volume_24h=s.arb_min_volume_24h,
                ),
                sh.clock,
                hedges=hedges.venues,
                tradable=tradable,
            )
            if hedge is not None
            else None
        )
        trading_store = TradingStore(sh.db, desk=desk.id)
        orders = OrderSender(
            account_api,
            trading_store,
            mode=mode,
            before_send=paper.sync_market if paper is not None and paper.real_data else None,
            clock=sh.clock,
            logger=logging.getLogger("bot.orders"),
            hedge=hedge_orders,
            venues={k: v for k, v in hedges.venues.items() if k in tradable},
            locks=sh.locks,
        )
        market_service = MarketService(market_api, account_api, sh.clock)
        account_service = AccountService(account_api, orders)
        limit = (
            s.max_order_notional
            if operator
            else min(s.max_order_notional, s.desk_max_order_notional)
        )
        trading_service = TradingService(
            account_api,
            trading_store,
            TradingConfig(
                mode=mode,
                max_order_notional=limit,
                confirm_ttl_seconds=s.confirm_ttl_seconds,
                price_drift_tolerance=s.price_drift_tolerance,
                limit_price_band=s.limit_price_band,
                orders_per_minute=None if operator else s.desk_orders_per_minute,
            ),
            market_data=market_api,
            sender=orders,
            clock=sh.clock,
            logger=logging.getLogger("bot.trading"),
        )
        strategy_store = StrategyStore(sh.db, desk=desk.id)
        journal = JournalService(strategy_store, account_api, market_api, sh.clock, mode)
        strategy_service = StrategyService(
            strategy_store,
            market_api,
            account_api,
            journal,
            sh.clock,
            trading_mode=mode,
            orders=orders,
            trading=trading_service,
            confirm_ttl_seconds=s.confirm_ttl_seconds,
            cross=(
                CrossDesk(arb_service, account_api, hedge_orders, strategy_store)
                if arb_service is not None and hedge_orders is not None
                else None
            ),
        )
        desks, desk_id = sh.desks, desk.id
        watcher_service = WatcherService(
            WatchConfig(
                members=lambda: desks.members(desk_id),
                funding_notice_minutes=s.funding_notice_minutes,
                liquidation_warning_distance=s.liquidation_warning_distance,
                stale_stream_seconds=s.stale_stream_seconds,
            ),
            sh.alerts,
            sh.alert_store.for_desk(desk.id),  # its watch marks; the users' settings shared
            market_api,
            account_api,
            account_service,
            sh.clock,
        )
        events = EventStore(sh.db, desk=desk.id)
        fills = FillFeed(watcher_service, events, account_api, sh.clock)
        stack.push_async_callback(fills.stop)
        return Services(
            settings=s,
            clock=sh.clock,
            db=sh.db,
            paper=paper,
            market_api=market_api,
            account_api=account_api,
            orders=orders,
            market=market_service,
            venue=primary,
            hedge=hedge,
            arb=arb_service,
            account=account_service,
            trading=trading_service,
            journal=journal,
            strategy=strategy_service,
            alert_store=sh.alert_store,
            alerts=sh.alerts,
            watchers=watcher_service,
            outbox=sh.outbox,
            recovery=RecoveryService(orders, trading_service, strategy_service),
            fills=fills,
            events=events,
            desk=desk,
            desks=sh.desks,
            trading_mode=mode,
        )
