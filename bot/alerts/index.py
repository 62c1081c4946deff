"""Per-symbol sorted threshold indexes: which price alerts does this tick cross?

Evaluating on every stream tick must not scan every alert. Each symbol keeps two sorted lists of
``(threshold, id)``: alerts waiting for the price to rise to their threshold ("above", ``>``)
and alerts waiting for it to fall ("below", ``<``). A tick at price ``p`` fires exactly the
prefix of the above-list with ``threshold < p`` and the suffix of the below-list with
``threshold > p`` (strict: "> x" means above x), found by ``bisect`` — O(log n + k) for k
fired alerts.

Fired alerts are parked in :class:`Hysteresis` until the price has gone back past the threshold
by a band (0.2 % by default); the same two-sorted-lists trick finds the ones to re-arm.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from decimal import Decimal

_NO_ID = -1
_MAX_ID = 2**63


@dataclass(frozen=True, slots=True)
class ArmedAlert:
    """What the index needs of an alert. ``op`` is ``>`` (fires strictly above) or ``<``
    (strictly below): an alert "> 100" does not fire at exactly 100."""

    id: int
    symbol: str
    op: str
    threshold: Decimal


class _Sides:
    __slots__ = ("above", "below")

    def __init__(self) -> None:
        self.above: list[tuple[Decimal, int]] = []
        self.below: list[tuple[Decimal, int]] = []


def _remove(keys: list[tuple[Decimal, int]], key: tuple[Decimal, int]) -> None:
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]


class AlertIndex:
    """Armed price alerts, by symbol, sorted by threshold."""

    def __init__(self) -> None:
        self._sides: dict[str, _Sides] = {}
        self._by_id: dict[int, ArmedAlert] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._by_id

    def symbols(self) -> list[str]:
        return [s for s, sides in self._sides.items() if sides.above or sides.below]

    def add(self, alert: ArmedAlert) -> None:
        if alert.op not in (">", "<"):
            raise ValueError(f"op must be > or <, not {alert.op!r}")
        self.remove(alert.id)
        sides = self._sides.setdefault(alert.symbol, _Sides())
        insort(sides.above if alert.op == ">" else sides.below, (alert.threshold, alert.id))
        self._by_id[alert.id] = alert

    def remove(self, alert_id: int) -> bool:
        alert = self._by_id.pop(alert_id, None)
        if alert is None:
            return False
        sides = self._sides[alert.symbol]
        _remove(sides.above if alert.op == ">" else sides.below, (alert.threshold, alert.id))
        return True

    def crossed(self, symbol: str, price: Decimal) -> list[ArmedAlert]:
        """Every alert whose condition holds at ``price``; they are removed (disarmed)."""
        sides = self._sides.get(symbol)
        if sides is None:
            return []
        fired: list[ArmedAlert] = []
        if sides.above and sides.above[0][0] < price:
            cut = bisect_left(sides.above, (price, _NO_ID))
            fired.extend(self._by_id.pop(i) for _, i in sides.above[:cut])
            del sides.above[:cut]
        if sides.below and sides.below[-1][0] > price:
            cut = bisect_right(sides.below, (price, _MAX_ID))
            fired.extend(self._by_id.pop(i) for _, i in sides.below[cut:])
            del sides.below[cut:]
        return fired


class Hysteresis:
    """Fired alerts waiting for the price to move back past their threshold by ``band``.

    An above-alert re-arms once ``price <= threshold * (1 - band)``; a below-alert once
    ``price >= threshold * (1 + band)``.
    """

    def __init__(self) -> None:
        self._index = AlertIndex()
        self._parked: dict[int, ArmedAlert] = {}

    def __len__(self) -> int:
        return len(self._parked)

    def park(self, alert: ArmedAlert, band: Decimal) -> None:
        # Re-use the index with the op flipped and the threshold moved by the band.
        if alert.op == ">":
            level = ArmedAlert(alert.id, alert.symbol, "<", alert.threshold * (1 - band))
        else:
            level = ArmedAlert(alert.id, alert.symbol, ">", alert.threshold * (1 + band))
        self._index.add(level)
        self._parked[alert.id] = alert

    def remove(self, alert_id: int) -> bool:
        self._parked.pop(alert_id, None)
        return self._index.remove(alert_id)

    def released(self, symbol: str, price: Decimal) -> list[ArmedAlert]:
        return [self._parked.pop(a.id) for a in self._index.crossed(symbol, price)]


def linear_scan(alerts: list[ArmedAlert], symbol: str, price: Decimal) -> list[ArmedAlert]:
    """The naive baseline the benchmark compares against: look at every alert."""
    return [
        a
        for a in alerts
        if a.symbol == symbol
        and ((a.op == ">" and price > a.threshold) or (a.op == "<" and price < a.threshold))
    ]
