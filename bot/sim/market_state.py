"""The simulated market as data, so a restart continues it instead of starting over.

A market's live state (last, mark, index and mid price, the funding rate, the book's update id,
the trade ids, open interest) and the history it generated or traded (hourly candles, settled
funding rates, the public trade tape) are dumped whole into a snapshot and, between snapshots,
as tails: the candles from the one in progress on and the settled rates not yet written.
Applying a record is idempotent, like the account journal's.

The walk's random generator is not saved (its state is 2.5 kB per market, every few seconds):
on restore it is seeded again from the simulator's seed, the symbol and the restored counters,
so the walk goes on from the saved price with fresh draws — no jump, only different luck.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from bot.sim.book import Market
from bot.sim.model import HISTORY_HOURS, Candle, D


@dataclass
class Marks:
    """How far one market's history is already on disk."""

    candle_start: int = 0
    funding_rows: int = 0  # settled rates only ever append (two may share a timestamp)


def dump(m: Market, since: Marks | None) -> dict[str, Any]:
    """``m`` as data: whole (``since`` is ``None``) or the tail newer than ``since``."""
    candles = (
        m.candles if since is None else [c for c in m.candles if c.start >= since.candle_start]
    )
    funding_from = 0 if since is None else since.funding_rows
    funding = m.funding_history[funding_from:]
    # The trade tape (about one trade a second per market) goes only into snapshots: in every
    # tail it would be most of the journal. After a kill the tape misses its newest trades; ids
    # still continue from ``trade_id``.
    trades = list(m.trades) if since is None else []
    return {
        "whole": since is None,
        "mid": str(m.mid),
        "last": str(m.last),
        "mark": str(m.mark),
        "index": str(m.index),
        "funding_rate": str(m.funding_rate),
        "update_id": m.update_id,
        "trade_id": m.trade_id,
        "open_interest": str(m.open_interest),
        "candles": [_candle_dump(c) for c in candles],
        "funding_from": funding_from,
        "funding": [[t, str(r)] for t, r in funding],
        "trades": trades,
    }


def marks(m: Market) -> Marks:
    """The marks after everything of ``m`` is on disk."""
    return Marks(
        candle_start=m.candles[-1].start if m.candles else 0,
        funding_rows=len(m.funding_history),
    )


def apply(m: Market, d: dict[str, Any], seed: int) -> None:
    """Restore what :func:`dump` wrote (a whole dump or a tail) into ``m``."""
    m.mid, m.last, m.mark, m.index = (D(d[k]) for k in ("mid", "last", "mark", "index"))
    m.funding_rate = D(d["funding_rate"])
    m.update_id = max(m.update_id, int(d["update_id"]))
    m.trade_id = max(m.trade_id, int(d["trade_id"]))
    m.open_interest = D(d["open_interest"])
    candles = [_candle_load(row) for row in d["candles"]]
    funding = [(int(t), D(r)) for t, r in d["funding"]]
    if d.get("whole"):
        m.candles, m.funding_history = candles, funding
        m.trades = deque(d["trades"], maxlen=m.trades.maxlen)
    else:
        if candles:
            m.candles = [c for c in m.candles if c.start < candles[0].start] + candles
            del m.candles[: max(0, len(m.candles) - (HISTORY_HOURS + 48))]
        del m.funding_history[int(d.get("funding_from", 0)) :]
        m.funding_history.extend(funding)
    m.rng = random.Random(f"{seed}:{m.spec.symbol}:{m.update_id}:{m.trade_id}")
    m.rebuild()
    m.published = m.aggregated()


def _candle_dump(c: Candle) -> list[Any]:
    return [
        c.start,
        str(c.open),
        str(c.high),
        str(c.low),
        str(c.close),
        str(c.volume),
        str(c.quote_volume),
        c.trades,
    ]


def _candle_load(row: list[Any]) -> Candle:
    start, o, h, lo, c, v, qv, n = row
    return Candle(int(start), D(o), D(h), D(lo), D(c), D(v), D(qv), int(n))
