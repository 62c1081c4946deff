"""Builders for strategy test tables: a perp snapshot with a deep book, positions, configs."""

from __future__ import annotations

from decimal import Decimal

from bot.strategy.model import (
    ONE,
    MarketSnapshot,
    PerpSnapshot,
    Portfolio,
    StrategyConfig,
    StrategyPosition,
)

D = Decimal
NOW = 1_760_000_000_000
HOUR = 3_600_000


def perp(
    symbol: str = "BTC_USDC_PERP",
    *,
    rate: str = "0.0005",
    mark: str = "100",
    depth: str = "1000",
    half_spread: str = "0.0001",
    spot: bool = True,
    volume: str = "10000000",
    step: str = "0.01",
) -> PerpSnapshot:
    """A perp at ``mark`` with one level of ``depth`` each side ``half_spread`` away."""
    m = D(mark)
    bids = ((m * (ONE - D(half_spread)), D(depth)),)
    asks = ((m * (ONE + D(half_spread)), D(depth)),)
    base = symbol.split("_", maxsplit=1)[0]
    return PerpSnapshot(
        symbol=symbol,
        base=base,
        mark=m,
        funding_rate=D(rate),
        funding_interval_hours=ONE,
        volume_24h=D(volume),
        step_size=D(step),
        min_quantity=D(step),
        bids=bids,
        asks=asks,
        spot_symbol=f"{base}_USDC" if spot else None,
        spot_step_size=D(step) if spot else None,
        spot_min_quantity=D(step) if spot else None,
        spot_bids=bids if spot else (),
        spot_asks=asks if spot else (),
        spot_price=m if spot else None,
    )


def snap(*perps: PerpSnapshot) -> MarketSnapshot:
    return MarketSnapshot(perps=perps, taken_at_ms=NOW)


def short_carry(
    symbol: str = "BTC_USDC_PERP", qty: str = "10", entry: str = "100", age_h: int = 1
) -> StrategyPosition:
    base = symbol.split("_", maxsplit=1)[0]
    return StrategyPosition(
        symbol=symbol,
        kind="carry",
        perp_quantity=-D(qty),
        perp_entry=D(entry),
        opened_at_ms=NOW - age_h * HOUR,
        entry_rate=D("0.0005"),
        spot_symbol=f"{base}_USDC",
        spot_quantity=D(qty),
        spot_entry=D(entry),
    )


def long_directional(
    symbol: str = "BTC_USDC_PERP", qty: str = "10", entry: str = "100", age_h: int = 1
) -> StrategyPosition:
    return StrategyPosition(
        symbol=symbol,
        kind="directional",
        perp_quantity=D(qty),
        perp_entry=D(entry),
        opened_at_ms=NOW - age_h * HOUR,
        entry_rate=D("-0.0005"),
    )


def book(*positions: StrategyPosition, exits: dict[str, int] | None = None) -> Portfolio:
    return Portfolio(positions=positions, last_exit_ms=exits or {})


def cfg(**changes: str) -> StrategyConfig:
    c = StrategyConfig()
    for k, v in changes.items():
        c = c.with_value(k, v)
    return c
