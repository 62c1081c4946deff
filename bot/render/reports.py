"""Text of the reports in chat: /daily, /weekly, /monthly, /stats, /version."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from bot.render import money
from bot.render.common import esc, mode_badge
from bot.services.account.reports import PeriodRow, Stats
from bot.services.health import Health

TITLES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}


def _n(value: Decimal) -> str:
    """A table cell: signed USDC without the unit (the header says USDC)."""
    return money.signed_usdc(value).removesuffix(" USDC")


def period_table(span: str, rows: Sequence[PeriodRow], mode: str) -> str:
    """A compact monospaced table (fits a phone: one line per period)."""
    head = f"<b>{TITLES[span]} PnL</b> · {mode_badge(mode)} · USDC, UTC periods"
    cells = [("period", "tr", "realised", "funding", "fees", "net", "equity")]
    for r in rows:
        cells.append(
            (
                r.label,
                str(r.trades),
                _n(r.realized),
                _n(r.funding),
                money.usdc(r.fees, unit=False),
                _n(r.net),
                _n(r.equity),
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    lines = [
        " ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c)))
        for c in cells
    ]
    legend = "tr = fills · equity = booked profit (realised + funding − fees) since the start"
    return f"{head}\n<pre>{esc(chr(10).join(lines))}</pre>\n<i>{legend}</i>"


def _hold(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def stats(s: Stats, mode: str) -> str:
    lines = [f"<b>Statistics</b> · {mode_badge(mode)} · all time"]
    if not s.trips and not (s.realized or s.funding or s.fees):
        lines.append("No closed trades or funding payments yet.")
        return "\n".join(lines)
    best = max(s.trips, key=lambda t: t.pnl, default=None)
    worst = min(s.trips, key=lambda t: t.pnl, default=None)
    hold = s.average_hold_s
    lines += [
        f"closed trades: {len(s.trips)}"
        + (f" · win rate {money.percent(s.win_rate, 0)}" if s.win_rate is not None else ""),
        f"average hold: {_hold(hold) if hold is not None else money.NONE}",
        "best trade: "
        + (f"{esc(best.symbol)} {money.signed_usdc(best.pnl)}" if best else money.NONE),
        "worst trade: "
        + (f"{esc(worst.symbol)} {money.signed_usdc(worst.pnl)}" if worst else money.NONE),
        f"realised {money.signed_usdc(s.realized)} · funding {money.signed_usdc(s.funding)} "
        f"· fees {money.usdc(s.fees)}",
        "funding's share of profit: "
        + (money.percent(s.funding_share, 0) if s.funding_share is not None else money.NONE),
        f"maximum drawdown: {money.usdc(s.max_drawdown)}",
    ]
    return "\n".join(lines)


def version(number: str, mode: str, exchange: str) -> str:
    return f"backpack-bot <b>{esc(number)}</b> · {mode_badge(mode)} · exchange {esc(exchange)}"


def health(h: Health) -> str:
    lines = [f"<b>Health</b> · {'✅ all good' if h.ok else '⚠️ needs a look'} · {esc(h.version)}"]
    lines += [f"{'✅' if c.ok else '❌'} {esc(c.name)}: {esc(c.detail)}" for c in h.checks]
    return "\n".join(lines)


def logs_not_here() -> str:
    """/logs on a desk other than the operator's: the log holds every desk's lines."""
    return (
        "📜 The bot's log holds the lines of every desk on this bot, so only the owners of the "
        "operator's desk can read it."
    )


def logs(lines: list[str], asked: int) -> str:
    if not lines:
        return "The log has no lines yet (since start)."
    body = "\n".join(line[:300] for line in lines)
    return f"<b>Last {len(lines)} log lines</b> (of {asked} asked)\n<pre>{esc(body)}</pre>"
