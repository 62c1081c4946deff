"""Messages for cross-venue funding: /funding with a hedge venue, and /arb."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.clock import Clock
from bot.render import money
from bot.render.common import countdown, esc, hhmm
from bot.services.strategy.arb import Scan, VenueEdge
from bot.services.strategy.cross import PairView
from bot.venues.pairs import Pair
from bot.venues.port import VenuePosition
from bot.venues.spread import Edge, Leg, apr
from bot.venues.stability import Stability


def _next(leg: Leg, clock: Clock) -> str:
    ms = leg.funding.next_funding_ms
    if ms is None:
        return "next payment unknown"
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"next {hhmm(at)} (in {countdown(at - clock.now())})"


def _in(leg: Leg, clock: Clock) -> str:
    ms = leg.funding.next_funding_ms
    if ms is None:
        return "?"
    return countdown(datetime.fromtimestamp(ms / 1000, tz=UTC) - clock.now())


def _leg_line(leg: Leg, clock: Clock) -> str:
    f = leg.funding
    return (
        f"<b>{esc(leg.venue)}</b> <code>{esc(leg.market.symbol)}</code>: "
        f"{money.rate(f.rate)} per {money.number(f.interval_hours)}h = "
        f"{money.rate(leg.rate_per_hour, 'hour')} · "
        f"APR {money.percent(apr(f.rate, f.interval_hours))}"
        f" · {_next(leg, clock)}"
    )


def _edge_line(e: Edge) -> str:
    head = f"for {money.usdc(e.notional)} per leg over {money.number(e.horizon_hours)}h"
    if e.problem is not None:
        return (
            f"no trade at {money.usdc(e.notional) if e.quantity else 'this size'}: {esc(e.problem)}"
        )
    line = (
        f"{head} ({money.size(e.quantity, max(e.short.market.step, e.long.market.step))} "
        f"{esc(e.base)} each): funding {money.signed_usdc(e.funding_income)}, "
        f"fees {money.signed_usdc(-e.fees)}, slippage {money.signed_usdc(-e.slippage)} "
        f"(in and out) → net <b>{money.signed_usdc(e.net)}</b>"
    )
    hours = e.breakeven_hours
    if hours is not None:
        line += f"; break-even after {money.number(hours, 1)}h of this spread"
    return line


def pair_block(pair: Pair, e: Edge, clock: Clock) -> str:
    """Both venues' funding for one asset, the spread and the net edge (under /funding)."""
    legs = sorted((e.short, e.long), key=lambda leg: leg.market.symbol != pair.primary.symbol)
    lines = [f"<b>{esc(pair.base)}</b> on both venues (each rate from its own interval)"]
    lines += [_leg_line(leg, clock) for leg in legs]
    if e.spread_per_hour == 0:
        lines.append("spread 0 per hour: nothing to earn")
    else:
        lines.append(
            f"spread {money.rate(e.spread_per_hour, 'hour')} · APR {money.percent(e.spread_apr)} — "
            f"short {esc(e.short.venue)}, long {esc(e.long.venue)}"
        )
    if pair.quote_note is not None:
        lines.append(f"quotes differ: {esc(pair.quote_note)} (the hedge carries that basis)")
    lines.append(_edge_line(e))
    return "\n".join(lines)


def venues_block(symbol: str, rows: Sequence[VenueEdge], clock: Clock) -> str:
    """/funding BTC with several hedge venues: Backpack's rate, then every venue's (per hour
    and APR, its interval and next payment) with its spread and net edge, best first."""
    first = next((r.edge for r in rows if r.edge is not None), None)
    base = first.base if first is not None else symbol
    lines = [f"<b>{esc(base)}</b> on every venue (each rate from its own interval)"]
    if first is not None:
        ours = first.long if first.hedge is first.short else first.short
        lines.append(_leg_line(ours, clock))
    for i, r in enumerate(rows):
        if r.edge is None:
            lines.append(f"<b>{esc(r.venue)}</b>: {esc(r.problem or 'not read')}")
            continue
        e = r.edge
        best = " ← best" if i == 0 and e.problem is None and len(rows) > 1 else ""
        lines.append(_leg_line(e.hedge, clock) + best)
        net = money.signed_usdc(e.net) if e.problem is None else esc(e.problem)
        lines.append(
            f"   spread APR {money.percent(e.spread_apr)} (short {esc(e.short.venue)}) · "
            f"net {net} for {money.usdc(e.notional)} per leg over "
            f"{money.number(e.horizon_hours)}h"
        )
    return "\n".join(lines)


def _stability_line(st: Stability) -> str:
    """Median spread APR over the last 3/7/30 days, how far it moved (p10 to p90), and how
    long the current sign has held."""
    if not st.windows:
        return "history: none yet"
    parts = [
        f"{w.days}d {money.percent(w.median_apr)} (±{money.percent(w.spread_apr / 2)})"
        for w in st.windows
    ]
    return "median " + " · ".join(parts) + f" · same sign for {st.sign_held_hours}h"


def spread_caption(e: Edge, st: Stability, days: int) -> str:
    """The caption under ``/chart spread``: now, and the stability over the history."""
    return (
        f"<b>{esc(e.base)}</b> backpack vs {esc(e.hedge.venue)}: spread APR now "
        f"{money.percent(e.spread_apr)} (short {esc(e.short.venue)}); last {days}d of "
        f"settled funding\n{_stability_line(st)}"
    )


def scan(s: Scan, primary: str, hedge: str, clock: Clock) -> str:
    """/arb: the best spreads now, each asset on its best hedge venue."""
    if not s.edges:
        if s.pairs == 0:
            return f"No perp is listed on both {esc(primary)} and {esc(hedge)}."
        if s.filtered == s.pairs:
            return (
                f"All {s.pairs} pairs are under ARB_MIN_OPEN_INTEREST / ARB_MIN_VOLUME_24H on "
                "the hedge venue."
            )
        return f"None of the {s.pairs} pairs could be read right now; try again shortly."
    first = s.edges[0]
    lines = [
        f"<b>Best funding spreads</b> · {esc(primary)} vs {esc(hedge)}",
        f"net edge for {money.usdc(first.notional or None)} per leg over "
        f"{money.number(first.horizon_hours)}h, after both venues' fees, slippage and exit",
    ]
    for e in s.edges:
        net = money.signed_usdc(e.net) if e.problem is None else esc(e.problem)
        lines.append(
            f"\n<b>{esc(e.base)}</b> on {esc(e.hedge.venue)} · spread APR "
            f"{money.percent(e.spread_apr)} · net {net}\n"
            f"short {esc(e.short.venue)} {money.rate(e.short.rate_per_hour, 'hour')} "
            f"(in {_in(e.short, clock)}) · long {esc(e.long.venue)} "
            f"{money.rate(e.long.rate_per_hour, 'hour')} (in {_in(e.long, clock)})"
        )
        st = s.stability.get((e.base, e.hedge.venue_id or ""))
        if st is not None:
            lines.append(_stability_line(st))
    if s.failed:
        lines.append(f"\n{s.failed} pair(s) could not be read and are left out.")
    if s.filtered:
        lines.append(
            f"{s.filtered} pair(s) under ARB_MIN_OPEN_INTEREST / ARB_MIN_VOLUME_24H left out."
        )
    return "\n".join(lines)


#: Callback data of the "Open" buttons under /arb: ``arb:open:<BASE>``.
OPEN_PREFIX = "arb:open:"


def open_buttons(s: Scan, limit: int = 3) -> InlineKeyboardMarkup | None:
    """ "Open BTC" for the best tradable spreads: a strategy proposal with the usual ✅."""
    rows = [
        [
            InlineKeyboardButton(
                f"Open {e.base} ({e.hedge.venue})",
                callback_data=f"{OPEN_PREFIX}{e.base}:{e.hedge.venue_id or ''}"[:64],
            )
        ]
        for e in s.edges
        if e.problem is None and e.spread_per_hour > 0
    ][:limit]
    return InlineKeyboardMarkup(rows) if rows else None


def pairs(views: Sequence[PairView]) -> str:
    """/positions: each asset held on both venues as one line, with the delta and how far
    each leg is from liquidation."""
    lines = ["<b>cross-venue pairs</b>"]
    for v in views:

        def leg(p: VenuePosition, venue: str) -> str:
            side = "long" if p.quantity > 0 else "short"
            d = PairView.distance(p)
            far = f"liq. {money.percent(d, 1)} away" if d is not None else "liq. —"
            return f"{side} {money.size(abs(p.quantity))} on {esc(venue)} ({far})"

        flag = "" if v.delta == 0 else " ⚠️"
        lines.append(
            f"<b>{esc(v.base)}</b> {leg(v.ours, 'backpack')} · {leg(v.theirs, v.hedge_venue)}"
            f" · delta {money.size(v.delta)}{flag}"
        )
    return "\n".join(lines)


def no_hedge() -> str:
    return (
        "No second venue is configured. Set <code>HEDGE_EXCHANGES</code> (ccxt ids such as "
        "hyperliquid,binanceusdm,bybit,okx) to compare funding across venues."
    )
