"""Messages for /price, /funding and /book."""

from __future__ import annotations

from decimal import Decimal

from bot.clock import Clock
from bot.render import money
from bot.render.common import countdown, esc, hhmm, num, pct, rate_pct, signed_pct, signed_usd, usd
from bot.services.market import BookView, FundingView, PriceView


def prices(views: list[PriceView]) -> str:
    blocks = []
    for v in views:
        arrow = "🟢" if v.change_24h >= 0 else "🔴"

        def px(value: Decimal | None, tick: Decimal | None = v.tick) -> str:
            return money.price(value, tick)

        head = f"<b>{esc(v.symbol)}</b>  {px(v.last)}  {arrow} {signed_pct(v.change_24h)} 24h"
        lines = [head]
        if v.mark is not None:
            lines.append(f"mark {px(v.mark)} · index {px(v.index)}")
        lines.append(f"bid {px(v.best_bid)} · ask {px(v.best_ask)}")
        lines.append(f"24h high {px(v.high)} · low {px(v.low)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def funding(views: list[FundingView], clock: Clock, *, single: bool) -> str:
    now = clock.now()
    if single:
        v = views[0]
        lines = [
            f"<b>{esc(v.symbol)}</b> funding",
            f"rate {rate_pct(v.rate)} per {num(v.interval_hours)}h · APR {pct(v.apr)}",
            f"next funding {hhmm(v.next_funding)} (in {countdown(v.next_funding - now)})",
            "positive: longs pay shorts" if v.rate > 0 else "negative: shorts pay longs",
        ]
        if v.position_qty is not None and v.expected_payment is not None:
            side = "long" if v.position_qty > 0 else "short"
            lines.append(
                f"your {side} {money.size(abs(v.position_qty))} → {signed_usd(v.expected_payment)} "
                "expected at the next funding"
            )
        return "\n".join(lines)
    lines = ["<b>Top funding rates</b> (per interval · APR)"]
    for v in views:
        mine = ""
        if v.expected_payment is not None:
            mine = f" · you {signed_usd(v.expected_payment)}"
        lines.append(f"<code>{esc(v.symbol):<16}</code> {rate_pct(v.rate)} · {pct(v.apr)}{mine}")
    if views:
        lines.append(f"next funding in {countdown(views[0].next_funding - now)}")
    return "\n".join(lines)


def book(v: BookView) -> str:
    lines = [f"<b>{esc(v.symbol)}</b> order book"]
    lines.append("<pre>")
    for p, q in reversed(v.asks[:8]):
        lines.append(f"ask {money.price(p, v.tick):>14} {money.size(q, v.step):>12}")
    lines.append("-" * 31)
    for p, q in v.bids[:8]:
        lines.append(f"bid {money.price(p, v.tick):>14} {money.size(q, v.step):>12}")
    lines.append("</pre>")
    if v.mid is not None and v.spread is not None:
        spread = f"{money.price(v.spread, v.tick)} ({pct(v.spread / v.mid, 3)})"
        lines.append(f"mid {money.price(v.mid)} · spread {spread}")
    lines.append(f"depth shown: bids {usd(v.bid_depth_usd)} · asks {usd(v.ask_depth_usd)}")
    return "\n".join(lines)
