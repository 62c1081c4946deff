"""An older /positions message once a position it shows closes: that block becomes one
struck-through line saying what closed it; the other positions stay as shown."""

from __future__ import annotations

from decimal import Decimal

from bot.render.account import closed_positions

TEXT = (
    "🔴 LIVE · <b>positions</b>\n\n"
    "🟢 <b>BTC_USDC_PERP</b> LONG 0.01\nentry 97,000.0 · mark 97,000.0\nuPnL 0.00 USDC\n"
    "🛡 SL 94,090.0 · TP —\n\n"
    "🔴 <b>ETH_USDC_PERP</b> SHORT 0.5\nentry 3,000.00 · mark 3,001.00\nuPnL -0.50 USDC\n"
    "🛡 SL — · TP —"
)


def test_the_closed_position_is_struck_and_says_why() -> None:
    out = closed_positions(TEXT, [("BTC_USDC_PERP", "stop-loss@94031.8")], lambda s: Decimal("0.1"))
    assert "✖️ <s>BTC_USDC_PERP LONG 0.01</s>\nclosed by its stop-loss at 94,031.8" in out
    assert "94,090.0" not in out  # the closed position's stale lines are gone
    assert out.endswith(TEXT.rsplit("\n\n", maxsplit=1)[-1])  # ETH untouched
    both = closed_positions(
        TEXT, [("BTC_USDC_PERP", "stop-loss@94031.8"), ("ETH_USDC_PERP", "closed")]
    )
    assert "✖️ <s>ETH_USDC_PERP SHORT 0.5</s>\nclosed" in both and "uPnL" not in both
