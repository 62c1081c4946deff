"""What the bot watches without being asked: funding notices, flips, liquidation distance,
a silent price stream, the daily digest, fills from the private stream.

The rules live here, as plain methods returning :data:`Notice` values (who to tell, what
happened); the jobs in ``jobs/watchers.py`` only schedule them and hand what they return to the
renderer and the outbox. Each user's ``/notify`` settings decide who hears what; marks in the
alert store make every notice fire once (per funding time, per flip, per 30 minutes for a
liquidation warning) even across restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bot.alerts.service import AlertService
from bot.clock import Clock, now_ms
from bot.exchange.client import BackpackAPI
from bot.services.access import Role, trade_notices
from bot.services.account.views import AccountService
from bot.services.market import apr, funding_payment
from bot.storage.alerts import AlertStore, WatchMarkView

log = logging.getLogger("bot.watchers")

LIQ_REPEAT_MS = 30 * 60 * 1000


@dataclass(frozen=True, slots=True)
class FundingNotice:
    user_id: int
    chat_id: int
    symbol: str
    quantity: Decimal
    rate: Decimal
    payment: Decimal
    minutes: int


@dataclass(frozen=True, slots=True)
class FundingFlip:
    user_id: int
    chat_id: int
    symbol: str
    quantity: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class LiquidationWarning:
    user_id: int
    chat_id: int
    symbol: str
    quantity: Decimal
    mark: Decimal
    liquidation: Decimal
    distance: Decimal


@dataclass(frozen=True, slots=True)
class StreamNotice:
    user_id: int
    chat_id: int
    silent: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class Digest:
    user_id: int
    chat_id: int
    rows: tuple[tuple[str, Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class FillNotice:
    user_id: int
    chat_id: int
    event: dict[str, Any]
    #: Orders cancelled in the same instant (a stop's fire takes its take-profit with it).
    cancelled: tuple[dict[str, Any], ...] = ()


Notice = FundingNotice | FundingFlip | LiquidationWarning | StreamNotice | Digest | FillNotice


@dataclass(frozen=True, slots=True)
class WatchConfig:
    #: The desk's members and their roles, read when a notice is addressed (members change):
    #: fill and strategy notices go to those who may trade unless they chose otherwise.
    members: Callable[[], Mapping[int, Role]]
    funding_notice_minutes: int
    liquidation_warning_distance: Decimal
    stale_stream_seconds: float


class WatcherService:
    """The watchers' rules and state, one instance per running bot."""

    def __init__(  # noqa: PLR0917 - the composition root names each collaborator
        self,
        config: WatchConfig,
        alerts: AlertService,
        store: AlertStore,
        market_api: BackpackAPI,
        account_api: BackpackAPI,
        account: AccountService,
        clock: Clock,
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.store = store
        self.market_api = market_api
        self.account_api = account_api
        self.account = account
        self.clock = clock
        self.polling = False
        #: The first side of each open position per user, known once read (it never changes).
        self._opened: dict[str, WatchMarkView] = {}

    async def _targets(self, flag: str) -> list[tuple[int, int]]:
        out = []
        for user in self.config.members():
            st = await self.store.settings(user)
            if getattr(st, flag):
                out.append((user, st.chat_id))
        return out

    async def recipients(self, kind: Literal["fills", "strategy"]) -> list[tuple[int, int]]:
        """(user, chat) of everyone who hears about the shared account's trading.

        Owners and traders by default, viewers only when they opted in; anyone can mute them
        with ``/notify fills off`` / ``/notify strategy off``.
        """
        out = []
        for user, role in self.config.members().items():
            st = await self.store.settings(user)
            if trade_notices(role, getattr(st, kind)):
                out.append((user, st.chat_id))
        return out

    async def fills(self, event: dict[str, Any]) -> list[Notice]:
        """A private order-stream event → its log line and a notice for every user who wants
        fills (which events reach the chat is :class:`bot.services.notices.fills.FillFeed`'s
        question: it logs every one through here and builds the notices itself)."""
        kind = str(event.get("e", ""))
        if kind not in ("orderFill", "orderCancelled", "orderExpired"):
            return []
        side = "BUY" if event.get("S") == "Bid" else "SELL"
        if kind == "orderFill":
            log.info(
                "fill: %s %s %s at %s (order %s)",
                side,
                event.get("l"),
                event.get("s"),
                event.get("L"),
                event.get("i"),
            )
        else:
            log.info("order %s: %s %s (%s)", event.get("i"), side, event.get("s"), kind)
        return [FillNotice(user, chat, event) for user, chat in await self.recipients("fills")]

    async def funding(self) -> list[Notice]:
        """Funding notices ahead of each funding time, and warnings when a rate flips so that a
        position which earned funding starts paying it."""
        targets = await self._targets("funding")
        if not targets:
            return []
        return await self._funding(await self._open_positions(), targets)

    async def account_round(self) -> list[Notice]:
        """Both account watchers on one read of the positions (the job every desk runs)."""
        funding, positions = await self._targets("funding"), await self._targets("positions")
        if not funding and not positions:
            return []
        rows = await self._open_positions()
        out = await self._funding(rows, funding) if funding else []
        return out + (await self._liquidation(rows, positions) if positions else [])

    async def _open_positions(self) -> list[dict[str, Any]]:
        return [p for p in await self.account_api.get_positions() if p["quantity"] != 0]

    async def _funding(
        self, positions: list[dict[str, Any]], targets: list[tuple[int, int]]
    ) -> list[Notice]:
        out: list[Notice] = []
        if not positions or not targets:  # a flat desk costs one read, not the mark prices too
            return out
        minutes = self.config.funding_notice_minutes
        now = now_ms(self.clock)
        marks = {r["symbol"]: r for r in await self.market_api.get_mark_prices()}
        seen: set[str] = set()
        for p in positions:
            qty = Decimal(p["quantity"])
            sym = p["symbol"]
            row = marks.get(sym)
            if qty == 0 or row is None:
                continue
            rate, mark = row["fundingRate"], row["markPrice"]
            next_ms = int(row.get("nextFundingTimestamp") or 0)
            pays = (rate > 0 and qty > 0) or (rate < 0 and qty < 0)
            for user, chat in targets:
                key = f"open:{user}:{sym}:{p.get('positionId', '')}"
                seen.add(key)
                first = self._opened.get(key) or await self.store.mark(key)
                if first is None:
                    await self.store.set_mark(key, now, "pays" if pays else "earns")
                    self._opened[key] = WatchMarkView(now, "pays" if pays else "earns")
                else:
                    self._opened[key] = first  # a position's first side never changes
                    if (
                        first.value == "earns"
                        and pays
                        and await self.store.claim_mark(
                            f"flip:{user}:{sym}:{p.get('positionId', '')}:{next_ms}", now
                        )
                    ):
                        out.append(FundingFlip(user, chat, sym, qty, rate))
                if next_ms and 0 <= next_ms - now <= minutes * 60_000:
                    key = f"fund:{user}:{sym}:{next_ms}"
                    if await self.store.claim_mark(key, now):
                        left = max(1, round((next_ms - now) / 60_000))
                        payment = funding_payment(rate, qty, mark)
                        out.append(FundingNotice(user, chat, sym, qty, rate, payment, left))
        self._opened = {k: v for k, v in self._opened.items() if k in seen}  # closed ones go
        return out

    async def liquidation(self) -> list[Notice]:
        """Positions whose mark is within the warning distance of liquidation (every 30 min)."""
        targets = await self._targets("positions")
        if not targets:
            return []
        return await self._liquidation(await self.account_api.get_positions(), targets)

    async def _liquidation(
        self, positions: list[dict[str, Any]], targets: list[tuple[int, int]]
    ) -> list[Notice]:
        out: list[Notice] = []
        limit = self.config.liquidation_warning_distance
        now = now_ms(self.clock)
        # The positions alone (their stops, which /positions shows, are not needed here).
        for row in positions:
            liquidation, mark = _dec(row.get("liquidationPrice")), _dec(row.get("markPrice"))
            if liquidation <= 0 or mark <= 0:
                continue
            distance = abs(mark - liquidation) / mark
            if distance > limit:
                continue
            symbol, quantity = str(row["symbol"]), Decimal(row["quantity"])
            for user, chat in targets:
                key = f"liq:{user}:{symbol}"
                last = await self.store.mark(key)
                if last is not None and now - last.at_ms < LIQ_REPEAT_MS:
                    continue
                await self.store.set_mark(key, now)
                out.append(
                    LiquidationWarning(user, chat, symbol, quantity, mark, liquidation, distance)
                )
        return out

    async def stale(self) -> list[Notice]:
        """A silent price stream switches alerts to REST polling, and back when it recovers."""
        limit = self.config.stale_stream_seconds
        newest = max(self.market_api.last_update.values(), default=0.0)
        silent = time.monotonic() - newest > limit
        out: list[Notice] = []
        if silent:
            if not self.polling:
                self.polling = True
                log.warning("price stream silent for > %.0f s: alerts switch to REST", limit)
                out = await self._everyone(silent=True)
            await self.poll()
        elif self.polling:
            self.polling = False
            log.info("price stream recovered: alerts are real-time again")
            out = await self._everyone(silent=False)
            await self.alerts.check_all()
        return out

    async def poll(self) -> None:
        """One REST round: current prices and funding → the alert service."""
        symbols = {a.symbol for a in self.alerts.alerts.values()}
        if not symbols:
            return
        for t in await self.market_api.get_tickers():
            if t["symbol"] in symbols:
                await self.alerts.on_price(t["symbol"], Decimal(t["lastPrice"]))
        for row in await self.market_api.get_mark_prices():
            if row["symbol"] in symbols:
                await self.alerts.on_funding(row["symbol"], row["fundingRate"])

    async def _everyone(self, *, silent: bool) -> list[Notice]:
        out: list[Notice] = []
        for user in self.config.members():
            st = await self.store.settings(user)
            out.append(StreamNotice(user, st.chat_id, silent, self.config.stale_stream_seconds))
        return out

    async def digest(self) -> list[Notice]:
        """The daily funding digest: top perps by |rate|, for users who turned it on."""
        targets = await self._targets("digest")
        if not targets:
            return []
        rows = await self.market_api.get_mark_prices()
        top = sorted(rows, key=lambda r: abs(r["fundingRate"]), reverse=True)[:10]
        lines = tuple(
            (r["symbol"], r["fundingRate"], apr(r["fundingRate"], Decimal(1))) for r in top
        )
        return [Digest(user, chat, lines) for user, chat in targets]


def _dec(value: Any) -> Decimal:
    """A wire number (already a ``Decimal`` when the client knows the field) or 0."""
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value or 0))
    except ArithmeticError:
        return Decimal(0)
