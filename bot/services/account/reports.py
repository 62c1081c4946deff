"""The numbers the dashboard and the chat's reports share: PnL per period (the same
computation as ``/pnl``), the equity curve, funding per asset (no Telegram types)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Literal

from bot.clock import Clock
from bot.services.access import Action, Actor
from bot.services.account.journal import JournalService, PnlReport, cents, compute_pnl
from bot.storage.strategy import JournalEntry

DashPeriod = Literal["day", "week", "month", "all"]
PERIOD_MS: dict[str, int | None] = {
    "day": 86_400_000,
    "week": 7 * 86_400_000,
    "month": 30 * 86_400_000,
    "all": None,
}
ZERO = Decimal(0)
#: At most this many points on the equity curve (each costs one pass over the journal).
CURVE_POINTS = 60


def equity_points(
    entries: Sequence[JournalEntry], since_ms: int | None = None, samples: int = CURVE_POINTS
) -> list[tuple[int, Decimal]]:
    """Booked profit (realised by average cost + funding − fees) after each of up to
    ``samples`` evenly spaced journal entries, counted from ``since_ms`` on."""
    ordered = sorted(entries, key=lambda e: e.at_ms)
    inside = [i for i, e in enumerate(ordered) if since_ms is None or e.at_ms >= since_ms]
    if not inside:
        return []
    step = max(1, len(inside) // samples)
    picks = inside[::step]
    if picks[-1] != inside[-1]:
        picks.append(inside[-1])
    out = []
    for i in picks:
        t = compute_pnl(ordered[: i + 1], {}, since_ms=since_ms).total
        out.append((ordered[i].at_ms, t.realized + t.funding - t.fees))
    return out


class ReportService:
    """PnL for any period and its equity curve, from the one journal."""

    def __init__(
        self, journal: JournalService, clock: Clock, *, opened_ms: int | None = None
    ) -> None:
        self.journal = journal
        self.clock = clock
        #: When the desk was opened: ``/daily`` & co. start there or at the first journal entry.
        self.opened_ms = opened_ms

    def since(self, period: DashPeriod) -> int | None:
        span = PERIOD_MS[period]
        return None if span is None else int(self.clock.time() * 1000) - span

    async def pnl(
        self, period: DashPeriod, actor: Actor
    ) -> tuple[PnlReport, list[tuple[int, Decimal]]]:
        """The ``/pnl`` report for ``period`` and the equity curve over the same span
        (account data: refused unless ``actor`` may see the account)."""
        actor.require(Action.ACCOUNT)
        await self.journal.sync()
        entries = await self.journal.store.journal(mode=self.journal.mode)
        since = self.since(period)
        report = compute_pnl(
            entries,
            await self.journal.prices(),
            since_ms=since,
            period=period,
            mode=self.journal.mode,
        )
        return report, equity_points(entries, since)

    async def _entries(self, actor: Actor) -> list[JournalEntry]:
        actor.require(Action.ACCOUNT)
        await self.journal.sync()
        return await self.journal.store.journal(mode=self.journal.mode)

    async def table(self, span: Span, count: int, actor: Actor) -> list[PeriodRow]:
        """``/daily`` (``/weekly``, ``/monthly``): the last ``count`` calendar periods."""
        entries = await self._entries(actor)
        return period_table(entries, span, count, self.clock.now(), opened_ms=self.opened_ms)

    async def stats(self, actor: Actor) -> Stats:
        """``/stats`` over the whole journal."""
        return stats(await self._entries(actor))


# ---------------------------------------------------------------------- period tables, /stats

Span = Literal["day", "week", "month"]
#: How many periods ``/daily`` & co. show by default, and at most.
DEFAULT_PERIODS: dict[str, int] = {"day": 7, "week": 4, "month": 3}
MAX_PERIODS = 60


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """One line of ``/daily`` (``/weekly``, ``/monthly``): a calendar period in UTC."""

    label: str
    trades: int
    realized: Decimal
    funding: Decimal
    fees: Decimal
    equity: Decimal  # booked profit since the first journal entry, at the period's end

    @property
    def net(self) -> Decimal:
        return self.realized + self.funding - self.fees


def period_starts(span: Span, count: int, now: datetime) -> list[datetime]:
    """The starts of the last ``count`` calendar periods (UTC), oldest first, the current one
    last (ISO weeks start on Monday)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    starts: list[datetime] = []
    if span == "day":
        starts = [day - timedelta(days=i) for i in range(count)]
    elif span == "week":
        monday = day - timedelta(days=day.weekday())
        starts = [monday - timedelta(weeks=i) for i in range(count)]
    else:
        month = day.replace(day=1)
        for _ in range(count):
            starts.append(month)
            month = (month - timedelta(days=1)).replace(day=1)
    return starts[::-1]


def _label(span: Span, start: datetime) -> str:
    if span == "day":
        return start.strftime("%Y-%m-%d")
    if span == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def period_table(
    entries: Sequence[JournalEntry],
    span: Span,
    count: int,
    now: datetime,
    *,
    opened_ms: int | None = None,
) -> list[PeriodRow]:
    """Trades, realised, funding, fees, net and booked equity per calendar period, from the
    period holding the account's first day (its first journal entry or ``opened_ms``, the
    desk's opening, whichever is earlier) on: never a period before the account existed. The
    money columns are to the cent and each net adds its row's cents (as ``/pnl``)."""
    ordered = sorted(entries, key=lambda e: e.at_ms)
    # the operator's desk predates desks: its opening is unknown (0) and its journal tells
    known = [t for t in (ordered[0].at_ms if ordered else None, opened_ms) if t]
    first = min(known) if known else None
    starts = period_starts(span, count, now)
    bounds = [int(s.timestamp() * 1000) for s in starts] + [int(now.timestamp() * 1000) + 1]
    rows = []
    for i, start in enumerate(starts):
        lo, hi = bounds[i], bounds[i + 1]
        if first is not None and hi <= first and i < len(starts) - 1:
            continue  # the account did not exist yet (the current period always shows)
        upto = [e for e in ordered if e.at_ms < hi]
        inside = compute_pnl(upto, {}, since_ms=lo).total
        booked = compute_pnl(upto, {}, since_ms=None).total
        trades = sum(1 for e in upto if e.kind != "funding" and e.at_ms >= lo)
        rows.append(
            PeriodRow(
                _label(span, start),
                trades,
                cents(inside.realized),
                cents(inside.funding),
                cents(inside.fees),
                cents(booked.realized + booked.funding - booked.fees),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Trip:
    """A round trip: a position in one market from flat back to flat."""

    symbol: str
    opened_ms: int
    closed_ms: int
    pnl: Decimal  # realised + funding − fees while it was open


@dataclass(frozen=True, slots=True)
class Stats:
    trips: tuple[Trip, ...]
    realized: Decimal
    funding: Decimal
    fees: Decimal
    max_drawdown: Decimal  # the largest fall of booked profit from a peak, USDC

    @property
    def win_rate(self) -> Decimal | None:
        if not self.trips:
            return None
        return Decimal(sum(1 for t in self.trips if t.pnl > 0)) / len(self.trips)

    @property
    def average_hold_s(self) -> int | None:
        if not self.trips:
            return None
        return sum(t.closed_ms - t.opened_ms for t in self.trips) // len(self.trips) // 1000

    @property
    def funding_share(self) -> Decimal | None:
        """Funding's part of what was earned (realised gains + funding), when positive."""
        earned = max(self.realized, ZERO) + max(self.funding, ZERO)
        return max(self.funding, ZERO) / earned if earned > 0 else None


#: Points of booked profit the drawdown is measured on (each costs one pass over the journal).
DRAWDOWN_POINTS = 400


def stats(entries: Sequence[JournalEntry]) -> Stats:
    """Round trips, win rate, average hold, funding's share and the maximum drawdown of booked
    profit (measured at up to :data:`DRAWDOWN_POINTS` evenly spaced entries), from the journal
    (average cost, as ``/pnl``)."""
    ordered = sorted(entries, key=lambda e: e.at_ms)
    held: dict[str, list[JournalEntry]] = {}
    trips: list[Trip] = []
    for e in ordered:
        trip = held.setdefault(e.symbol, [])
        trip.append(e)
        if e.kind != "funding" and _inventory(trip) == 0 and len(trip) > 1:
            t = compute_pnl(trip, {}, since_ms=None).total
            trips.append(Trip(e.symbol, trip[0].at_ms, e.at_ms, t.realized + t.funding - t.fees))
            held[e.symbol] = []
    peak = drawdown = ZERO
    for _, level in equity_points(ordered, None, DRAWDOWN_POINTS):
        peak = max(peak, level)
        drawdown = max(drawdown, peak - level)
    total = compute_pnl(ordered, {}, since_ms=None).total
    return Stats(tuple(trips), total.realized, total.funding, total.fees, drawdown)


def _inventory(trip: Sequence[JournalEntry]) -> Decimal:
    """The position ``trip``'s fills leave (a spot buy's fee paid in the coin reduces it, as in
    :func:`~bot.services.account.journal.compute_pnl`)."""
    qty = ZERO
    for e in trip:
        if e.kind == "funding":
            continue
        size = e.quantity
        if (
            e.side == "Bid"
            and not e.symbol.endswith("_PERP")
            and e.fee_symbol not in (None, "USDC")
        ):
            size -= e.fee
        qty += size if e.side == "Bid" else -size
    return qty


def bot_version() -> str:
    """The installed package's version (``pyproject.toml``)."""
    try:
        return package_version("backpack-bot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


# ---------------------------------------------------------------------- spread history (/api/arb)

#: How far back the dashboard draws each cross-venue spread.
SPREAD_HOURS = 72
HOURS_PER_YEAR = Decimal(8760)


def spread_series(
    short: Sequence[tuple[int, Decimal]],
    short_interval_h: Decimal,
    long: Sequence[tuple[int, Decimal]],
    long_interval_h: Decimal,
) -> list[tuple[int, Decimal]]:
    """The spread's APR (short leg's rate per hour − long leg's, × 8,760) at every settlement of
    either venue, each side at its latest settled rate; starts once both have one."""
    events = sorted(
        [(t, "s", r / short_interval_h) for t, r in short]
        + [(t, "l", r / long_interval_h) for t, r in long]
    )
    latest: dict[str, Decimal] = {}
    out: list[tuple[int, Decimal]] = []
    for t, side, hourly in events:
        latest[side] = hourly
        if len(latest) == 2:
            out.append((t, (latest["s"] - latest["l"]) * HOURS_PER_YEAR))
    return out
