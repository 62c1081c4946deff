"""Funding: settlement every interval, rates and payment history."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from typing import TYPE_CHECKING, Any

from bot.sim.markets import fmt
from bot.sim.model import (
    D,
    iso,
    page,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Funding:
    """Funding: settlement every interval, rates and payment history."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def settle_funding(self) -> None:
        """Pay funding on every open perp position at the current mark and estimated rate.

        Rows are stamped with an interval boundary like the exchange's: the due one, or for an
        early (manual, ``/_sim/settle``) settlement the boundary that last passed.
        """
        now = self.ex.clock.time()
        end = (
            self.ex.next_funding
            if now >= self.ex.next_funding
            else self.ex.next_funding - self.ex.funding_interval
        )
        end_ts = int(end)
        for m in self.ex.markets.values():
            if m.spec.is_perp:
                m.funding_history.append((end_ts, m.funding_rate))
        for acc in self.ex.accounts.values():
            for sym, pos in list(acc.positions.items()):
                if not pos.qty:
                    continue
                m = self.ex.markets[sym]
                payment = (m.funding_rate * pos.qty * m.mark).quantize(D("0.000001"), ROUND_HALF_UP)
                acc.bal("USDC")[0] -= payment
                pos.funding -= payment
                self.ex.margin.settlement(acc, pos, -payment, "FundingPayment")
                acc.funding.append(
                    {
                        "userId": acc.user_id,
                        "subaccountId": 0,
                        "symbol": sym,
                        "quantity": fmt(-payment),
                        "intervalEndTimestamp": iso(end_ts, ms=False),
                        "fundingRate": fmt(m.funding_rate),
                    }
                )
                self.ex.streams.position_event(acc, pos, "positionAdjusted")
        self.ex.next_funding = self.ex.next_boundary(max(now, end) + 0.001)
        self.ex.changed()

    def maybe_settle(self) -> None:
        if self.ex.clock.time() >= self.ex.next_funding:
            self.settle_funding()

    def funding_rates(self, symbol: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        m = self.ex.market(symbol)
        rows = [(int(self.ex.next_funding), m.funding_rate), *reversed(m.funding_history)]
        sel = rows[offset : offset + limit]
        return [
            {"symbol": symbol, "intervalEndTimestamp": iso(t, ms=False), "fundingRate": fmt(r)}
            for t, r in sel
        ]

    def funding_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.ex.account(key)
        rows = [r for r in acc.funding if not q.get("symbol") or r["symbol"] == q["symbol"]]
        return page(rows, q)
