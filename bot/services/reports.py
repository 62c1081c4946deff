"""The numbers the dashboard and the chat's reports share: PnL per period (the same
computation as ``/pnl``), the equity curve, funding per asset (no Telegram types)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from bot.clock import Clock
from bot.services.access import Action, Actor
from bot.services.journal import JournalService, PnlReport, compute_pnl
from bot.storage.strategy import JournalEntry

DashPeriod = Literal["day", "week", "month", "all"]
PERIOD_MS: dict[str, int | None] = {
    "day": 86_400_000,
    "week": 7 * 86_400_000,
    "month": 30 * 86_400_000,
    "all": None,
}
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

    def __init__(self, journal: JournalService, clock: Clock) -> None:
        self.journal = journal
        self.clock = clock

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
