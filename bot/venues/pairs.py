"""Symbols matched across venues by base asset and settlement (pure).

``BTC_USDC_PERP`` on Backpack pairs with ``BTC/USDC:USDC`` when the hedge venue has it, else
with ``BTC/USDT:USDT``; the quote difference is shown, because USDC and USDT are two assets and
their exchange rate moves the hedge a little.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bot.venues.port import VenueMarket

#: Settlement assets a USDC position can be hedged in, best first.
STABLE_SETTLEMENTS = ("USDC", "USDT", "USD")


@dataclass(frozen=True, slots=True)
class Pair:
    """The same asset's perp on the primary (Backpack) and the hedge venue."""

    base: str
    primary: VenueMarket
    hedge: VenueMarket

    @property
    def quote_note(self) -> str | None:
        """``"USDC vs USDT"`` when the two legs settle in different assets."""
        if self.primary.settle == self.hedge.settle:
            return None
        return f"{self.primary.settle} vs {self.hedge.settle}"


def _allowed(market: VenueMarket, allow: Collection[str]) -> bool:
    if not allow:
        return True
    names = {market.base.upper(), market.symbol.upper()}
    return any(a.upper() in names for a in allow)


def match(
    primary: Mapping[str, VenueMarket],
    hedge: Mapping[str, VenueMarket],
    allow: Collection[str] = (),
) -> list[Pair]:
    """Every primary perp with a hedge perp on the same base, sorted by base.

    ``allow`` (``HEDGE_SYMBOLS``) keeps only the bases or symbols listed (either venue's).
    """
    by_base: dict[str, list[VenueMarket]] = {}
    for m in hedge.values():
        if m.settle in STABLE_SETTLEMENTS:
            by_base.setdefault(m.base.upper(), []).append(m)
    pairs = []
    for p in primary.values():
        candidates = by_base.get(p.base.upper(), [])
        if not candidates:
            continue
        rank = {s: i for i, s in enumerate((p.settle, *STABLE_SETTLEMENTS))}
        h = min(candidates, key=lambda m: (rank.get(m.settle, 99), m.symbol))
        if allow and not (_allowed(p, allow) or _allowed(h, allow)):
            continue
        pairs.append(Pair(base=p.base.upper(), primary=p, hedge=h))
    pairs.sort(key=lambda x: x.base)
    return pairs
