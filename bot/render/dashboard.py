"""The dashboard's views as JSON-ready dicts of text: every number is formatted here with the
one money formatter, so the page shows exactly what ``/positions`` and ``/pnl`` show.

The equity curve is drawn here too, as a small self-contained SVG (no script, no outside
reference), so the page needs no chart library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo

from bot.render import money
from bot.render.common import signed_usd, usd
from bot.services.account.journal import PnlReport, PnlRow
from bot.services.account.views import PositionView
from bot.storage.strategy import ActionRecord
from bot.venues.port import VenuePosition

PERIOD_TITLES = {
    "day": "last 24 h",
    "week": "last 7 days",
    "month": "last 30 days",
    "all": "all time",
}


DASHBOARD_TEXT = "📊 <b>Dashboard</b>: positions, PnL, funding and trades on one page."
DASHBOARD_OFF = (
    "📊 The dashboard is off: the bot's owner sets <code>WEBAPP_URL</code> to its public HTTPS "
    "address (see the README, “The dashboard”)."
)


def dashboard_button(url: str) -> InlineKeyboardMarkup:
    """The inline button of type ``web_app`` that opens the dashboard inside Telegram."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("📊 Open the dashboard", web_app=WebAppInfo(url))]]
    )


def menu_button(url: str) -> MenuButtonWebApp:
    return MenuButtonWebApp("Dashboard", WebAppInfo(url))


def _distance(mark: Decimal | None, liquidation: Decimal | None) -> str:
    if mark is None or liquidation is None or not mark:
        return money.NONE
    return money.percent(abs(mark - liquidation) / mark)


def hedge_positions(venue: str, rows: Sequence[VenuePosition]) -> list[dict[str, Any]]:
    """Positions on the hedge venue (its SL/TP and funding are not read from there)."""
    return [
        {
            "symbol": p.symbol,
            "venue": venue,
            "side": "LONG" if p.quantity > 0 else "SHORT",
            "size": money.size(abs(p.quantity)),
            "entry": money.price(p.entry_price),
            "mark": money.price(p.mark),
            "upnl": signed_usd(p.unrealized_pnl) if p.unrealized_pnl is not None else money.NONE,
            "funding": money.NONE,
            "liquidation": money.price(p.liquidation_price) if p.liquidation_price else money.NONE,
            "liq_distance": _distance(p.mark, p.liquidation_price),
            "notional": usd(abs(p.quantity) * p.mark) if p.mark is not None else money.NONE,
            "sl": money.NONE,
            "tp": money.NONE,
            "closable": False,
        }
        for p in rows
        if p.quantity
    ]


def positions(views: Sequence[PositionView], venue: str = "Backpack") -> list[dict[str, Any]]:
    out = []
    for v in views:
        out.append(
            {
                "symbol": v.symbol,
                "venue": venue,
                "side": v.side,
                "size": money.size(abs(v.quantity)),
                "entry": money.price(v.entry),
                "mark": money.price(v.mark),
                "upnl": signed_usd(v.unrealized),
                "funding": signed_usd(v.funding),
                "liquidation": money.price(v.liquidation) if v.liquidation else money.NONE,
                "liq_distance": _distance(v.mark, v.liquidation),
                "notional": usd(v.notional),
                "sl": _stops(v, "sl"),
                "tp": _stops(v, "tp"),
                "closable": True,
            }
        )
    return out


def _stops(v: PositionView, kind: str) -> str:
    mine = [money.price(s.trigger) for s in v.stops if s.kind == kind]
    return " / ".join(mine) if mine else money.NONE


def _row(r: PnlRow) -> dict[str, str]:
    return {
        "symbol": r.symbol,
        "realized": signed_usd(r.realized),
        "unrealized": signed_usd(r.unrealized),
        "funding": signed_usd(r.funding),
        "fees": usd(r.fees),
        "net": signed_usd(r.net),
    }


def pnl(report: PnlReport, curve: str) -> dict[str, Any]:
    """The PnL page: the same cents as ``/pnl`` (nets and total add up what is shown)."""
    report = report.in_cents()
    return {
        "period": report.period,
        "title": PERIOD_TITLES.get(report.period, report.period),
        "rows": [_row(r) for r in report.rows],
        "total": _row(report.total),
        "curve": curve,
    }


def hedge_funding(venue: str, rows: Mapping[str, Decimal]) -> list[dict[str, str]]:
    return [
        {
            "asset": symbol.split("/")[0].split("_")[0],
            "symbol": symbol,
            "venue": venue,
            "funding": signed_usd(amount),
        }
        for symbol, amount in sorted(rows.items())
        if amount
    ]


def funding(report: PnlReport, venue: str) -> list[dict[str, str]]:
    """Funding earned (+) or paid (−) per asset on ``venue`` over the report's period."""
    return [
        {
            "asset": r.symbol.split("_")[0],
            "symbol": r.symbol,
            "venue": venue,
            "funding": signed_usd(r.funding),
        }
        for r in report.in_cents().rows
        if r.funding
    ]


def trades(records: Sequence[ActionRecord]) -> list[dict[str, str]]:
    return [
        {
            "at": datetime.fromtimestamp(r.at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M"),
            "what": f"{r.kind} {r.symbol}",
            "size": money.size(r.perp_quantity),
            "price": money.price(r.perp_price),
            "why": r.reason,
            "problems": "; ".join(r.problems),
        }
        for r in records
    ]


def equity_svg(
    points: Sequence[tuple[int, Decimal]],
    width: int = 360,
    height: int = 140,
    label: str | None = None,
) -> str:
    """A line chart of ``points`` as inline SVG text (empty chart with a note when < 2)."""
    pad, top = 6, 22  # room above the line for the label
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="equity curve">'
    )
    if len(points) < 2:
        return (
            head + f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
            'class="note">not enough history yet</text></svg>'
        )
    xs = [float(t) for t, _ in points]
    ys = [float(v) for _, v in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min([*ys, 0.0]), max([*ys, 0.0])
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - pad - top) / ((y1 - y0) or 1)

    def xy(x: float, y: float) -> str:
        return f"{pad + (x - x0) * sx:.1f},{height - pad - (y - y0) * sy:.1f}"

    line = " ".join(xy(x, y) for x, y in zip(xs, ys, strict=True))
    zero = height - pad - (0 - y0) * sy
    last = escape(label or f"booked profit, now {signed_usd(points[-1][1])}")
    return (
        head
        + f'<line x1="{pad}" x2="{width - pad}" y1="{zero:.1f}" y2="{zero:.1f}" class="axis"/>'
        + f'<polyline fill="none" stroke-width="2" class="line" points="{line}"/>'
        + f'<text x="{pad}" y="15" class="note">{last}</text></svg>'
    )


def spread_svg(points: Sequence[tuple[int, Decimal]]) -> str:
    """A spread's recent history (APR) as a small line chart."""
    label = f"spread APR, now {money.signed_percent(points[-1][1], 1)}" if points else None
    return equity_svg(points, height=90, label=label)
