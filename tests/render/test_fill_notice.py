"""The stop-fired notice names the order the exchange cancelled with it, for longs and shorts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.render.alerts import fill

TICK = Decimal("0.1")


def fired(side: str, trigger: str) -> dict[str, object]:
    return {"e": "orderFill", "s": "BTC_USDC_PERP", "S": side, "i": "1", "X": "Filled",
            "l": "0.01", "L": trigger, "P": trigger}  # fmt: skip


def cancelled(side: str, trigger: str) -> dict[str, object]:
    return {"e": "orderCancelled", "s": "BTC_USDC_PERP", "S": side, "i": "2", "q": "0.01",
            "P": trigger}  # fmt: skip


@pytest.mark.parametrize(
    ("side", "fired_at", "other_at", "name"),
    [
        ("Ask", "95982", "101799.1", "the take-profit at 101,799.1"),  # a long's stop-loss fired
        ("Ask", "101799.1", "95982", "the stop-loss at 95,982.0"),  # a long's take-profit fired
        ("Bid", "101800", "95000", "the take-profit at 95,000.0"),  # a short's stop-loss fired
        ("Bid", "95000", "101800", "the stop-loss at 101,800.0"),  # a short's take-profit fired
    ],
)
def test_the_cancelled_sibling_is_named(side: str, fired_at: str, other_at: str, name: str) -> None:
    text = fill(fired(side, fired_at), (cancelled(side, other_at),), TICK)
    assert text is not None
    assert f"✖️ Cancelled with it: {name} · order <code>2</code>" in text
    assert f"Stop triggered at {Decimal(fired_at):,.1f}" in text


def test_an_unrelated_cancel_is_described_plainly() -> None:
    text = fill(fired("Ask", "95982"), (cancelled("Bid", "90000"),), TICK)
    assert text is not None and "BUY 0.01 (trigger 90,000.0)" in text
