"""Strategy control: build snapshots, run a decision cycle, propose or execute, keep the books.

No Telegram types here: the job and the handlers call these methods and render the results.
``off`` does nothing; ``approve`` turns each intended action into a single-use proposal (a random
token bound to the user, with an expiry) that only an explicit tap executes; ``auto`` executes
at once and reports.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.clock import Clock
from bot.exchange.client import BackpackAPI, round_trigger
from bot.exchange.errors import BackpackError
from bot.exchange.markets import round_quantity
from bot.faults import crash_point
from bot.services import access
from bot.services.access import Actor
from bot.services.account.journal import JournalService
from bot.services.orders.confirm import Outcome, Preview, Status, TradingService
from bot.services.orders.intent import IntentError, MultiLeg, OrderIntent
from bot.services.orders.sender import SENT_OK, LegStatus, OrderOutcome, OrderSender, WireOrder
from bot.services.orders.stops import stops_of
from bot.services.strategy.cross import CrossDesk
from bot.storage.strategy import MODES, ActionRecord, StrategyStore
from bot.strategy.backtest import BacktestResult, run_backtest
from bot.strategy.cross import CrossResult, cross_config, run_cross_backtest
from bot.strategy.decide import candidates, decide, exchange_stop_price
from bot.strategy.executor import ExecutionReport, Executor, LegFill
from bot.strategy.history import load_cross_history, load_history, parse_ts_ms
from bot.strategy.model import (
    BPS,
    HOUR_MS,
    ONE,
    ZERO,
    Action,
    Candidate,
    ConfigError,
    Fees,
    Leg,
    Level,
    MarketSnapshot,
    PerpSnapshot,
    Portfolio,
    StrategyConfig,
    StrategyPosition,
)

log = logging.getLogger("bot.strategy")

BOOK_DEPTH = 50
ORIGIN = "strategy:"
#: Journal leg numbers of an action's orders (token = the action's id).
STEP_LEG = {"0": 0, "1": 1, "unwind": 2}
MAX_BACKTEST_DAYS = 35


@dataclass(frozen=True, slots=True)
class Proposal:
    """An action waiting for the user's ✅ (``token`` is the callback data)."""

    token: str
    action: Action
    expires_at_ms: int
    chat_id: int
    preview: Preview | None = None


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did: proposals to send (approve) or executions to report (auto)."""

    mode: str
    proposals: tuple[Proposal, ...] = ()
    reports: tuple[ExecutionReport, ...] = ()
    chat_id: int | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # for the user (legs diverging, no margin for an entry)


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """A tap's result: the confirmation service's outcome, plus what the strategy made of it.

    ``report`` is set when orders were sent; ``proposal`` replaces the tapped one when the price
    moved (re-quote: a fresh token to tap).
    """

    outcome: Outcome
    action: Action | None = None
    report: ExecutionReport | None = None
    proposal: Proposal | None = None


@dataclass(frozen=True, slots=True)
class CrossBacktest:
    """A ``cross`` backtest and what it ran on (for the summary)."""

    result: CrossResult
    base: str
    venues: str
    days: int


@dataclass(frozen=True, slots=True)
class PositionView:
    position: StrategyPosition
    mark: Decimal | None
    funding_rate: Decimal | None
    unrealized: Decimal | None
    #: Where its stop-loss lives: the exchange's trigger price, or ``None`` (checked each cycle).
    exchange_stop: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    mode: str
    trading_mode: str
    config: StrategyConfig
    candidates: tuple[Candidate, ...]
    positions: tuple[PositionView, ...]
    paused: bool = False  # /pause: no new entries


def leg_fill(leg: Leg, o: OrderOutcome) -> LegFill:
    """A journaled order's outcome as the executor's fill."""
    ok = o.status in SENT_OK
    return LegFill(
        symbol=leg.symbol,
        side=leg.side,
        requested=leg.quantity,
        filled=o.executed_quantity if ok else ZERO,
        average_price=o.avg_price,
        order_id=o.order_id,
        reduce_only=leg.reduce_only,
        error=None if ok else (o.reason or str(o.status)),
    )


def _levels(rows: list[list[Decimal]]) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in rows)


class StrategyService:
    """The strategy's rules and state, shared by the job, the handlers and the tests."""

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
        confirm_ttl_seconds: int = 60,
        cross: CrossDesk | None = None,
    ) -> None:
        """``cross`` reads the hedge venue for the ``cross`` kind (``None``: no hedge venue
        that orders can go to)."""
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
        self._lock = asyncio.Lock()
        self._fees: Fees | None = None
        self._cooldowns_told: dict[str, int] = {}  # symbol → the exit whose cooldown was logged
        #: When the last cycle began (``/health``); ``None`` until the first one.
        self.last_cycle_ms: int | None = None

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # ------------------------------------------------------------------ settings

    async def set_mode(self, mode: str, *, actor: Actor) -> str:
        """Switch ``off | approve | auto``; the actor and their chat receive proposals and
        reports. Refused (:class:`~bot.services.access.Refused`) unless the actor may change
        the strategy here."""
        actor.require(access.Action.STRATEGY)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        await self.store.save_settings(
            now_ms=self.now_ms(), mode=mode, user_id=actor.user_id, chat_id=actor.chat_id
        )
        return mode

    async def set_paused(self, paused: bool, *, actor: Actor) -> bool:
        """``/pause`` (True) or ``/resume``: new entries stop or start again; exits, stops and
        the delta check always go on. Refused unless the actor may change the strategy."""
        actor.require(access.Action.STRATEGY)
        await self.store.save_settings(now_ms=self.now_ms(), paused=paused)
        return paused

    async def set_config(self, key: str, value: str, *, actor: Actor) -> StrategyConfig:
        """Validate and persist one setting (raises ``ConfigError`` with the reason, or
        :class:`~bot.services.access.Refused` when the actor may not change the strategy)."""
        actor.require(access.Action.STRATEGY)
        current = (await self.store.settings()).config
        updated = current.with_value(key, value)
        if updated.kind == "cross" and self.cross is None:
            raise ConfigError(
                "kind cross trades on two venues: set HEDGE_EXCHANGE (and HEDGE_CREDENTIALS "
                "for live trading; in paper mode EXCHANGE=sim), then restart"
            )
        await self.store.save_settings(now_ms=self.now_ms(), config=updated)
        return updated

    # ------------------------------------------------------------------ market data

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

    # ------------------------------------------------------------------ status

    async def status(self, actor: Actor, limit: int = 8) -> StrategyStatus:
        """The strategy's mode, positions and candidates (account data for ``actor``)."""
        actor.require(access.Action.ACCOUNT)
        settings = await self.store.settings()
        portfolio = await self.store.portfolio()
        crossing, others = _split(portfolio)
        if settings.config.kind == "cross" and self.cross is not None:
            pairs = await self.cross.candidates(settings.config, crossing, self.now_ms())
            marks = await self.cross.marks()
            return StrategyStatus(
                settings.mode,
                self.trading_mode,
                settings.config,
                pairs[:limit],
                tuple(PositionView(p, marks.get(p.symbol), None, None) for p in crossing.positions),
                settings.paused,
            )
        snap = await self.snapshot(settings.config, others)
        cands = candidates(snap, others, settings.config, self.now_ms())
        views = []
        for p in others.positions:
            perp = snap.get(p.symbol)
            views.append(
                PositionView(
                    p,
                    perp.mark if perp else None,
                    perp.funding_rate if perp else None,
                    p.unhedged_pnl(perp.mark, perp.spot_price) if perp else None,
                    exchange_stop_price(p, settings.config),
                )
            )
        return StrategyStatus(
            settings.mode,
            self.trading_mode,
            settings.config,
            tuple(cands[:limit]),
            tuple(views),
            settings.paused,
        )

    # ------------------------------------------------------------------ the cycle

    async def run_cycle(self) -> CycleResult:
        """One decision: off → nothing; approve → proposals; auto → executions."""
        async with self._lock:
            settings = await self.store.settings()
            self.last_cycle_ms = self.now_ms()  # /health: the cycle runs
            if settings.mode == "off":
                return CycleResult(mode="off")
            now = self.now_ms()
            owner = (settings.user_id or 0, settings.chat_id or 0)
            stop_notes = await self.ensure_stops(settings.config, *owner)
            actions, warnings = await self._decide(settings.config, now, settings.mode)
            if settings.paused:  # /pause: exits and stops go on, nothing new is opened
                actions = [a for a in actions if a.kind != "open"]
            if settings.mode == "auto":
                reports = [await self._execute(a, *owner) for a in actions]
                stop_notes += await self.ensure_stops(settings.config, *owner)
                return CycleResult(
                    "auto",
                    reports=tuple(reports),
                    chat_id=settings.chat_id,
                    notes=stop_notes,
                    warnings=warnings,
                )
            if settings.chat_id is None or settings.user_id is None:
                return CycleResult("approve", notes=("approve mode has nobody to ask",))
            waiting = await self.store.pending_symbols(now)
            proposals: list[Proposal] = []
            notes: list[str] = []
            for a in actions:
                if a.symbol in waiting:
                    continue  # the user has not answered the last proposal for it yet
                try:
                    proposals.append(
                        await self._propose(a, Actor.bot(settings.user_id, settings.chat_id), now)
                    )
                except IntentError as exc:
                    notes.append(f"{a.symbol}: {exc.problem}")
            return CycleResult(
                "approve",
                proposals=tuple(proposals),
                chat_id=settings.chat_id,
                notes=(*stop_notes, *notes),
                warnings=warnings,
            )

    async def _decide(
        self, config: StrategyConfig, now: int, mode: str
    ) -> tuple[list[Action], tuple[str, ...]]:
        """The configured kind enters and manages its positions; positions of the other
        family (cross, or Backpack-only) keep being managed, exits only, until they close."""
        crossing, others = _split(await self.store.portfolio())
        cross_on = config.kind == "cross" and self.cross is not None
        actions: list[Action] = []
        warnings: tuple[str, ...] = ()
        if others.positions or config.kind != "cross":
            cfg = config
            if config.kind == "cross":  # exits only for the Backpack-only positions
                cfg = replace(config, kind="carry", max_positions=0)
            snap = await self.snapshot(cfg, others)
            actions += decide(snap, others, cfg, now)
            self._say_cooldowns(candidates(snap, others, cfg, now), others)
        if self.cross is not None and (crossing.positions or cross_on):
            cfg = config if cross_on else replace(config, max_positions=0)
            plan = await self.cross.plan(cfg, crossing, now, auto=mode == "auto")
            actions += plan.actions
            warnings = plan.warnings
        elif crossing.positions or config.kind == "cross":
            log.warning("cross needs the hedge venue (HEDGE_EXCHANGE); nothing done for it")
        return actions, warnings

    def _say_cooldowns(self, evaluated: list[Candidate], portfolio: Portfolio) -> None:
        """Log once per exit each entry the cooldown holds back (after an unwind or a close),
        so the operator sees why the strategy does not re-enter a pair that qualifies."""
        for c in evaluated:
            exited = portfolio.last_exit_ms.get(c.symbol)
            if exited is None or not c.reason.startswith("cooling down"):
                continue
            if self._cooldowns_told.get(c.symbol) != exited:
                self._cooldowns_told[c.symbol] = exited
                log.info("strategy: %s qualifies but is %s", c.symbol, c.reason)

    async def propose_cross(
        self, text: str, actor: Actor, *, venue_id: str | None = None
    ) -> Proposal:
        """The /arb "Open" button: a cross entry for one asset as a strategy proposal (the
        usual preview and single-use ✅); the position is then the strategy's to manage."""
        actor.require(access.Action.TRADE)
        if self.cross is None:
            raise IntentError("Cross trading needs a hedge venue that orders can go to.", "")
        config = (await self.store.settings()).config
        action = await self.cross.open_for(text, config, venue_id)
        return await self._propose(action, actor, self.now_ms())

    async def ensure_stops(
        self, config: StrategyConfig, user_id: int, chat_id: int
    ) -> tuple[str, ...]:
        """With ``stop_on_exchange``: give every unhedged strategy position its stop-loss as a
        reduce-only conditional order on the exchange (journaled like every order), and forget
        positions the exchange has closed meanwhile (a stop that fired). Idempotent: run each
        cycle, it also covers positions opened before the setting, or a placement that failed."""
        portfolio = await self.store.portfolio()
        wanted = {
            p.symbol: (p, trigger)
            for p in portfolio.positions
            if (trigger := exchange_stop_price(p, config)) is not None
        }
        if not wanted:
            return ()
        positions, orders = await asyncio.gather(
            self.account_api.get_positions(), self.account_api.get_open_orders()
        )
        real = {p["symbol"]: p for p in positions}
        notes: list[str] = []
        for symbol, (pos, trigger) in wanted.items():
            row = real.get(symbol)
            have = Decimal(str(row["netQuantity"])) if row else ZERO
            if have == 0 or (have > 0) != (pos.perp_quantity > 0):
                await self.store.remove_position(symbol, exited_at_ms=self.now_ms())
                notes.append(
                    f"{symbol}: closed on the exchange (its stop-loss fired, or by hand); forgotten"
                )
                continue
            assert row is not None
            mark = Decimal(str(row.get("markPrice") or trigger))
            mine = [o for o in orders if o.get("symbol") == symbol]
            if any(s.kind == "sl" for s in stops_of(have, mark, mine)):
                continue
            market = await self.account_api.market(symbol)
            wire = WireOrder(
                symbol,
                "SELL" if have > 0 else "BUY",
                min(abs(have), abs(pos.perp_quantity)),  # the strategy's part, not the user's
                reduce_only=True,
                trigger_price=round_trigger(market, trigger),
            )
            outcome = await self.orders.place(
                wire,
                token=f"stop:{secrets.token_urlsafe(9)}",
                leg=0,
                user_id=user_id,
                chat_id=chat_id,
                origin=f"{ORIGIN}stop:{symbol}",
            )
            if outcome.status not in SENT_OK:
                notes.append(f"{symbol}: exchange stop-loss not placed ({outcome.reason})")
        return tuple(notes)

    async def _propose(self, action: Action, actor: Actor, now: int) -> Proposal:
        """A pending confirmation in the trading service (the same single-use, owner-only,
        expiring one as manual orders), tagged so the tap comes back to the strategy."""
        action = await self._prepare(action)
        aid = secrets.token_urlsafe(12)
        intent = MultiLeg(
            legs=tuple(
                OrderIntent(
                    side="buy" if leg.is_buy else "sell",
                    market=leg.symbol,
                    quantity=leg.quantity,
                    reduce_only=leg.reduce_only,
                    venue=leg.venue,
                )
                for leg in action.legs
            ),
            title=f"Strategy: {action.kind} {action.symbol} ({_kind_title(action)})",
            origin=f"{ORIGIN}{aid}",
        )
        preview = await self.trading.preview(actor, intent)
        chat_id = actor.chat_id
        await self.store.add_approval(
            aid,
            action,
            chat_id=chat_id,
            message_id=None,
            now_ms=now,
            expires_at_ms=preview.expires_at_ms,
        )
        return Proposal(preview.token, action, preview.expires_at_ms, chat_id, preview)

    async def approve(self, token: str, actor: Actor) -> ApprovalResult:
        """The ✅ tap: the trading service's single-use confirm (which checks ``actor``),
        then unwind and book."""
        actor.require(access.Action.TRADE)
        async with self._lock:
            outcome = await self.trading.confirm(actor, token)
            return await self._after(outcome)

    async def reject(self, token: str, actor: Actor) -> ApprovalResult:
        """The ❌ tap: cancel the confirmation; nothing is sent."""
        return await self._after(await self.trading.cancel(actor, token))

    async def trades(self, actor: Actor, limit: int = 10) -> list[ActionRecord]:
        """The strategy's last trades with their reasons (account data for ``actor``)."""
        actor.require(access.Action.ACCOUNT)
        return await self.store.actions(limit=limit)

    async def after(self, outcome: Outcome) -> ApprovalResult:
        """Book what a confirmation of a strategy proposal did (a tap, or recovery after a
        restart settling one); unwind a hedge gap. Other confirmations pass through."""
        async with self._lock:
            return await self._after(outcome)

    async def _after(self, outcome: Outcome) -> ApprovalResult:
        origin = outcome.origin or ""
        if not origin.startswith(ORIGIN):
            return ApprovalResult(outcome)
        aid = origin.removeprefix(ORIGIN)
        found = await self.store.approval(aid)
        if found is None:
            return ApprovalResult(outcome)
        action, _ = found
        if outcome.status == Status.REQUOTED and outcome.new_preview is not None:
            fresh = outcome.new_preview
            await self.store.extend_approval(aid, fresh.expires_at_ms)
            return ApprovalResult(
                outcome,
                action,
                proposal=Proposal(fresh.token, action, fresh.expires_at_ms, fresh.chat_id, fresh),
            )
        if outcome.status in (Status.CANCELLED, Status.EXPIRED, Status.INVALID):
            await self.store.finish_approval(aid, str(outcome.status))
            return ApprovalResult(outcome, action)
        if not outcome.results:
            return ApprovalResult(outcome, action)
        fills = [
            LegFill(
                symbol=r.leg.symbol,
                side="Bid" if r.leg.is_buy else "Ask",
                requested=r.leg.quantity,
                filled=r.executed_quantity,
                average_price=r.avg_price,
                order_id=r.order_id,
                reduce_only=r.leg.reduce_only,
                error=None if r.status in SENT_OK else (r.reason or str(r.status)),
            )
            for r in outcome.results
            if r.status != LegStatus.SKIPPED
        ]
        preview = outcome.preview
        owner = (preview.user_id, preview.chat_id) if preview else (0, 0)
        report = await self.executor(aid, *owner).complete(action, fills)
        report = await self.settle(action, report, "approve")
        await self.store.finish_approval(aid, "executed")
        if action.kind == "open":
            await self.ensure_stops((await self.store.settings()).config, *owner)
        await self._sync_journal()
        return ApprovalResult(outcome, action, report)

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

    async def _sync_journal(self) -> None:
        try:
            await self.journal.sync()
        except BackpackError as exc:
            log.warning("journal sync after a strategy trade failed: %s", exc)

    async def _prepare(self, action: Action) -> Action:
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

    async def _execute(self, action: Action, user_id: int, chat_id: int) -> ExecutionReport:
        """Auto mode: record the action (``executing``), send its legs, book, finish. A stop
        anywhere in between is finished by recovery at the next start
        (:func:`bot.services.strategy.resume.resume_interrupted`)."""
        action = await self._prepare(action)
        if not action.legs:
            await self.store.remove_position(action.symbol, exited_at_ms=self.now_ms())
            return ExecutionReport(action, (), (), ("nothing left to trade",))
        aid = secrets.token_urlsafe(12)
        now = self.now_ms()
        await self.store.add_approval(
            aid,
            action,
            chat_id=chat_id,
            message_id=None,
            now_ms=now,
            expires_at_ms=now,
            status="executing",
        )
        report = await self.executor(aid, user_id, chat_id).execute(action)
        report = await self.settle(action, report, "auto")
        await self.store.finish_approval(aid, "executed", frm="executing")
        await self._sync_journal()
        return report

    async def settle(self, action: Action, report: ExecutionReport, mode: str) -> ExecutionReport:
        """Book what the legs did and record the outcome for the next cycle; returns the report
        with its fees and, when an entry was unwound, the end of the cooldown it started.

        Any unwind of an entry (a live cycle, a tap, or recovery after a restart) starts
        ``cooldown_minutes`` for the symbol, persisted with the exits: otherwise the next cycle
        sees the same rate and opens the same pair again, and each round trip burns its fees.
        """
        report = await self._book(action, report, mode)
        now = self.now_ms()
        cooldown: int | None = None
        if action.kind == "open" and report.unwinds:
            minutes = (await self.store.settings()).config.cooldown_minutes
            await self.store.start_cooldown(action.symbol, at_ms=now)
            cooldown = now + minutes * 60_000
        fees = await self.fees()
        return replace(
            report,
            fees=report.fees_at(fees.perp_taker, fees.spot_taker),
            cooldown_until_ms=cooldown,
            at_ms=now,
        )

    async def _book(self, action: Action, report: ExecutionReport, mode: str) -> ExecutionReport:
        """Update the positions the strategy owns from what really filled; log the action.

        A spot buy's fee is charged in the base asset: the position holds what the account
        received, not what was bought. What a close leaves below the spot market's step is
        dust: it cannot be sold, so the position ends and the report says so (never retried).
        """
        now = self.now_ms()
        perp_px = report.price_of(action.symbol)
        spot_leg = action.legs[1] if len(action.legs) > 1 else None
        spot_px = report.price_of(spot_leg.symbol) if spot_leg else None
        existing = (await self.store.portfolio()).position(action.symbol)
        if action.kind == "open" and action.strategy == "cross" and not report.ok:
            # A failed or unwound entry counts as an exit: the cooldown stops a loop of
            # opening and unwinding the same pair (each round trip burns two venues' fees).
            await self.store.remove_position(action.symbol, exited_at_ms=now)
            existing = None
        if action.kind == "open":
            if report.perp_filled or report.spot_filled:
                await self.store.put_position(
                    StrategyPosition(
                        symbol=action.symbol,
                        kind=action.strategy,
                        perp_quantity=report.perp_filled,
                        perp_entry=perp_px or action.legs[0].expected_price,
                        opened_at_ms=now,
                        entry_rate=action.funding_rate,
                        spot_symbol=spot_leg.symbol if spot_leg and report.spot_filled else None,
                        spot_quantity=report.spot_filled - await self._base_fees(report),
                        spot_entry=spot_px or ZERO,
                        hedge_venue=spot_leg.venue if spot_leg and spot_leg.venue else None,
                    )
                )
        elif existing is not None:
            perp_left = existing.perp_quantity + report.perp_filled
            spot_left = existing.spot_quantity + report.spot_filled
            markets = await self.account_api.load_markets()
            spot_market = markets.get(existing.spot_symbol or "")
            if existing.kind == "cross":  # the second leg is a perp on the hedge venue
                dust = spot_left == 0
            else:
                tradable = round_quantity(spot_market, spot_left) if spot_market else ZERO
                dust = spot_market is None or tradable < spot_market.min_quantity
            if perp_left == 0 and dust:
                await self.store.remove_position(action.symbol, exited_at_ms=now)
                if spot_left > 0 and spot_market is not None:
                    note = (
                        f"{spot_left.normalize():f} {spot_market.base} left is dust (below the "
                        f"{spot_market.step_size.normalize():f} step): it cannot be sold"
                    )
                    report = replace(report, problems=(*report.problems, note))
            else:
                await self.store.put_position(
                    replace(existing, perp_quantity=perp_left, spot_quantity=spot_left)
                )
        await self.store.add_action(
            ActionRecord(
                at_ms=now,
                mode=self.trading_mode,
                symbol=action.symbol,
                kind=action.kind,
                strategy=action.strategy,
                reason=action.reason,
                order_ids=tuple(f.order_id for f in (*report.fills, *report.unwinds) if f.order_id),
                perp_quantity=report.perp_filled,
                perp_price=perp_px,
                spot_quantity=report.spot_filled,
                spot_price=spot_px,
                problems=report.problems,
            )
        )
        return report

    async def _base_fees(self, report: ExecutionReport) -> Decimal:
        """The base-asset fees of the spot buys in ``report`` (Backpack charges a spot buy's
        fee in what was bought)."""
        perp, total = report.action.symbol, ZERO
        markets = await self.account_api.load_markets()
        for f in (*report.fills, *report.unwinds):
            if f.symbol == perp or f.side != "Bid" or not f.order_id or not f.filled:
                continue
            market = markets.get(f.symbol)
            base = market.base if market is not None else f.symbol.split("_")[0]
            try:
                rows = await self.account_api.get_fills(f.symbol, order_id=f.order_id)
            except BackpackError as exc:
                log.warning("fee lookup for %s failed: %s", f.order_id, exc)
                continue
            total += sum((Decimal(str(r["fee"])) for r in rows if r.get("feeSymbol") == base), ZERO)
        return total

    # ------------------------------------------------------------------ restart

    async def reconcile(self) -> list[str]:
        """Align the positions the strategy owns with the exchange's real ones (at start)."""
        notes: list[str] = []
        portfolio = await self.store.portfolio()
        if not portfolio.positions:
            return notes
        real = {
            p["symbol"]: Decimal(str(p["netQuantity"]))
            for p in await self.account_api.get_positions()
        }
        balances = {
            b["asset"]: Decimal(str(b["available"])) + Decimal(str(b["locked"]))
            for b in await self.account_api.get_balances()
        }
        markets = await self.account_api.load_markets()
        now = self.now_ms()
        for pos in portfolio.positions:
            if pos.kind == "cross":
                continue  # both venues' legs are checked by the cross delta check each cycle
            have = real.get(pos.symbol, ZERO)
            gone = have == 0 or (have > 0) != (pos.perp_quantity > 0)
            if pos.perp_quantity != 0 and gone:
                notes.append(f"{pos.symbol}: no matching position on the exchange; forgotten")
                await self.store.remove_position(pos.symbol, exited_at_ms=now)
                continue
            updated = pos
            if abs(have) < abs(pos.perp_quantity):
                notes.append(f"{pos.symbol}: exchange holds {have}, had {pos.perp_quantity}")
                updated = replace(updated, perp_quantity=have)
            if pos.spot_symbol is not None:
                base = markets[pos.spot_symbol].base if pos.spot_symbol in markets else ""
                held = balances.get(base, ZERO)
                if held < pos.spot_quantity:
                    notes.append(f"{pos.spot_symbol}: holding {held}, had {pos.spot_quantity}")
                    updated = replace(updated, spot_quantity=held)
            if updated != pos:
                await self.store.put_position(updated)
        return notes

    # ------------------------------------------------------------------ backtests and charts

    async def backtest(
        self, symbol: str, days: int
    ) -> tuple[BacktestResult | CrossBacktest, bytes]:
        """Run the current config over ``days`` of history; returns the PNG too. ``cross``
        replays both venues' history (the hedge's through ccxt)."""
        if not 1 <= days <= MAX_BACKTEST_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_BACKTEST_DAYS}")
        config = (await self.store.settings()).config
        if config.kind == "cross":
            return await self._cross_backtest(symbol, days, config)
        history = await load_history(self.market_api, symbol, days=days, now_ms=self.now_ms())
        result = run_backtest([history], config, fees=await self.fees())
        from bot.render.charts import equity_png  # matplotlib: ~35 MB, load on use

        png = equity_png(result.equity, f"{history.symbol} backtest, {days} days ({config.kind})")
        return result, png

    async def _cross_backtest(
        self, symbol: str, days: int, config: StrategyConfig
    ) -> tuple[CrossBacktest, bytes]:
        if self.cross is None:
            raise ConfigError("kind cross needs the hedge venue (HEDGE_EXCHANGE)")
        base = (await self.market_api.market(symbol)).base
        a, b = await load_cross_history(
            self.market_api, self.cross.hedge, base, days=days, now_ms=self.now_ms()
        )
        result = run_cross_backtest(a, b, cross_config(config))
        from bot.render.charts import equity_png  # matplotlib: ~35 MB, load on use

        png = equity_png(result.equity, f"{base} cross backtest, {days} days")
        return CrossBacktest(result, base, f"{a.name} vs {b.name}", days), png

    async def price_chart(self, symbol: str, hours: int) -> tuple[str, bytes]:
        sym = await self.market_api.resolve_symbol(symbol)
        now = self.now_ms()
        start = now - hours * HOUR_MS
        interval = "15m" if hours <= 24 else "1h"
        klines = await self.market_api.get_klines(sym, interval, start // 1000, now // 1000)
        prices = [
            (parse_ts_ms(str(k["start"])), Decimal(str(k["close"])))
            for k in klines
            if k.get("close") is not None
        ]
        funding: list[tuple[int, Decimal]] = []
        if sym.endswith("_PERP"):
            for r in await self.market_api.get_funding_history(sym, limit=min(1000, hours + 1)):
                t = parse_ts_ms(str(r["intervalEndTimestamp"]))
                if start <= t <= now:
                    funding.append((t, Decimal(str(r["fundingRate"]))))
            funding.sort()
        from bot.render.charts import price_funding_png  # matplotlib: ~35 MB, load on use

        return sym, price_funding_png(sym, prices, funding)

    async def funding_chart(self, top: int = 15) -> bytes:
        rows = [
            (m["symbol"], Decimal(m["fundingRate"]))
            for m in await self.market_api.get_mark_prices()
            if "fundingRate" in m
        ]
        rows.sort(key=lambda r: abs(r[1]), reverse=True)
        from bot.render.charts import funding_bars_png  # matplotlib: ~35 MB, load on use

        return funding_bars_png(
            rows[:top], f"Funding per interval, top {min(top, len(rows))} perps"
        )


def _split(portfolio: Portfolio) -> tuple[Portfolio, Portfolio]:
    """(cross positions, the others), each with every exit time (cooldowns)."""
    crossing = tuple(p for p in portfolio.positions if p.kind == "cross")
    others = tuple(p for p in portfolio.positions if p.kind != "cross")
    return (
        Portfolio(crossing, portfolio.last_exit_ms),
        Portfolio(others, portfolio.last_exit_ms),
    )


def _kind_title(action: Action) -> str:
    if action.strategy != "cross":
        return action.strategy
    return "cross: backpack + hedge venue"
