"""The PnL journal: every fill, fee and funding payment of the account, and ``/pnl`` from it.

Fills and funding payments are pulled from the exchange's history (deduplicated by their ids),
so the journal is complete even for trades the bot did not place. PnL is computed with average
cost per symbol; a spot buy whose fee is charged in the base asset adds ``quantity − fee`` to the
inventory and counts the fee in USDC at the fill price.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.services.access import Action, Actor
from bot.storage.strategy import JournalEntry, StrategyStore
from bot.strategy.history import parse_ts_ms

ZERO = Decimal(0)
Period = Literal["day", "week", "all"]
PERIOD_MS: dict[str, int | None] = {"day": 86_400_000, "week": 7 * 86_400_000, "all": None}
PAGE = 1000
CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """``value`` to the cent, half up (as the money formatter rounds)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PnlRow:
    """PnL of one symbol (or ``TOTAL``) over the period; ``unrealized`` is as of now."""

    symbol: str
    realized: Decimal
    unrealized: Decimal
    funding: Decimal
    fees: Decimal

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized + self.funding - self.fees


@dataclass(frozen=True, slots=True)
class PnlReport:
    period: str
    mode: str
    rows: tuple[PnlRow, ...]
    total: PnlRow

    def in_cents(self) -> PnlReport:
        """The report as the user reads it, and it adds up: every amount to the cent, each
        net the sum of its row's shown cents, and the total row the sum of the shown rows.

        Rounding each figure on its own lets ``realised + unrealised + funding − fees`` miss
        the shown net by a cent, and a reader who adds it up loses trust in every number. As an
        accountant footing a statement, the cents shown are the figures: the nets and the totals
        are derived from them (each shown amount is within half a cent of the ledger's; the
        exact amounts stay in the journal). The chat and the dashboard both show this."""
        rows = tuple(
            PnlRow(
                r.symbol, cents(r.realized), cents(r.unrealized), cents(r.funding), cents(r.fees)
            )
            for r in self.rows
        )
        total = PnlRow(
            self.total.symbol,
            sum((r.realized for r in rows), ZERO),
            sum((r.unrealized for r in rows), ZERO),
            sum((r.funding for r in rows), ZERO),
            sum((r.fees for r in rows), ZERO),
        )
        return PnlReport(self.period, self.mode, rows, total)


def _fee_usdc(e: JournalEntry) -> Decimal:
    if not e.fee:
        return ZERO
    if e.fee_symbol in (None, "USDC") or e.price is None:
        return e.fee
    return e.fee * e.price


def compute_pnl(
    entries: Iterable[JournalEntry],
    prices: Mapping[str, Decimal],
    *,
    since_ms: int | None,
    period: str = "all",
    mode: str = "paper",
) -> PnlReport:
    """Average-cost PnL per symbol; realized, funding and fees count from ``since_ms`` on."""
    inv: dict[str, Decimal] = {}
    avg: dict[str, Decimal] = {}
    realized: dict[str, Decimal] = {}
    funding: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    for e in entries:
        inside = since_ms is None or e.at_ms >= since_ms
        sym = e.symbol
        for d in (inv, avg, realized, funding, fees):
            d.setdefault(sym, ZERO)
        if e.kind == "funding":
            if inside:
                funding[sym] += e.amount
            continue
        if e.price is None:
            continue
        buy = e.side == "Bid"
        qty = e.quantity
        base_fee = not sym.endswith("_PERP") and buy and e.fee_symbol not in (None, "USDC")
        if base_fee:
            qty -= e.fee
        signed = qty if buy else -qty
        if inside:
            fees[sym] += _fee_usdc(e)
        held = inv[sym]
        if held == 0 or (held > 0) == (signed > 0):
            size = abs(held) + abs(signed)
            avg[sym] = (avg[sym] * abs(held) + e.price * abs(signed)) / size if size else ZERO
            inv[sym] = held + signed
            continue
        closed = min(abs(signed), abs(held))
        pnl = (e.price - avg[sym]) * closed * (1 if held > 0 else -1)
        if inside:
            realized[sym] += pnl
        inv[sym] = held + signed
        if inv[sym] == 0:
            avg[sym] = ZERO
        elif (inv[sym] > 0) != (held > 0):
            avg[sym] = e.price  # flipped through zero: the rest opened at this price
    rows: list[PnlRow] = []
    for sym in sorted(inv):
        px = prices.get(sym)
        unreal = (px - avg[sym]) * inv[sym] if px is not None and inv[sym] else ZERO
        row = PnlRow(sym, realized[sym], unreal, funding[sym], fees[sym])
        if row.realized or row.unrealized or row.funding or row.fees:
            rows.append(row)
    total = PnlRow(
        "TOTAL",
        sum((r.realized for r in rows), ZERO),
        sum((r.unrealized for r in rows), ZERO),
        sum((r.funding for r in rows), ZERO),
        sum((r.fees for r in rows), ZERO),
    )
    return PnlReport(period=period, mode=mode, rows=tuple(rows), total=total)


def fill_entry(row: Mapping[str, Any], mode: str) -> JournalEntry:
    """A ``/wapi/v1/history/fills`` row as a journal entry."""
    return JournalEntry(
        external_id=f"fill:{row['tradeId']}:{row['symbol']}",
        kind="fill",
        mode=mode,
        at_ms=parse_ts_ms(str(row["timestamp"])),
        symbol=str(row["symbol"]),
        side=str(row["side"]),
        quantity=Decimal(str(row["quantity"])),
        price=Decimal(str(row["price"])),
        fee=Decimal(str(row.get("fee") or 0)),
        fee_symbol=row.get("feeSymbol"),
        amount=ZERO,
        order_id=str(row["orderId"]) if row.get("orderId") is not None else None,
    )


def funding_entry(row: Mapping[str, Any], mode: str) -> JournalEntry:
    """A ``/wapi/v1/history/funding`` row (``quantity`` > 0 = received) as a journal entry."""
    end = str(row["intervalEndTimestamp"])
    return JournalEntry(
        external_id=f"funding:{row['symbol']}:{end}",
        kind="funding",
        mode=mode,
        at_ms=parse_ts_ms(end),
        symbol=str(row["symbol"]),
        side=None,
        quantity=ZERO,
        price=None,
        fee=ZERO,
        fee_symbol=None,
        amount=Decimal(str(row["quantity"])),
        rate=Decimal(str(row["fundingRate"])) if row.get("fundingRate") is not None else None,
    )


class JournalService:
    """Keeps the journal in step with the exchange and answers ``/pnl``."""

    def __init__(
        self,
        store: StrategyStore,
        account_api: BackpackAPI,
        market_api: BackpackAPI,
        clock: Clock,
        mode: str,
    ) -> None:
        self.store = store
        self.account_api = account_api
        self.market_api = market_api
        self.clock = clock
        self.mode = mode
        # Two /pnl at once would both find a fill new and insert it twice (a UNIQUE error).
        self._syncing = asyncio.Lock()

    async def sync(self) -> int:
        """Pull fills and funding payments from the exchange; returns how many were new."""
        async with self._syncing:
            fills = await self.account_api.get_fills(limit=PAGE)
            funding = await self.account_api.get_funding_payments(limit=PAGE)
            entries = [fill_entry(r, self.mode) for r in fills]
            entries += [funding_entry(r, self.mode) for r in funding]
            return await self.store.add_journal(entries)

    async def prices(self) -> dict[str, Decimal]:
        """Marks for perps and last prices for spot markets (for unrealized PnL)."""
        out: dict[str, Decimal] = {}
        for t in await self.market_api.get_tickers():
            if isinstance(t.get("lastPrice"), Decimal):
                out[t["symbol"]] = t["lastPrice"]
        for m in await self.market_api.get_mark_prices():
            if isinstance(m.get("markPrice"), Decimal):
                out[m["symbol"]] = m["markPrice"]
        return out

    async def pnl(self, period: Period = "all", *, actor: Actor) -> PnlReport:
        """Realised, unrealised, funding and fees over ``period`` (account data for ``actor``:
        :class:`~bot.services.access.Refused` where it may not be shown)."""
        actor.require(Action.ACCOUNT)
        await self.sync()
        span = PERIOD_MS[period]
        now = int(self.clock.time() * 1000)
        entries = await self.store.journal(mode=self.mode)
        return compute_pnl(
            entries,
            await self.prices(),
            since_ms=None if span is None else now - span,
            period=period,
            mode=self.mode,
        )
