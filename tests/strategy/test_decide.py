"""Table tests for the pure decision: entry, exit, hysteresis, fee-aware no-trade, limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.strategy.decide import candidates, decide, fill_estimate
from bot.strategy.model import Action, ConfigError, StrategyConfig
from tests.strategy.cases import (
    HOUR,
    NOW,
    book,
    cfg,
    long_directional,
    perp,
    short_carry,
    snap,
)

D = Decimal


def legs(actions: list[Action]) -> list[tuple[str, str, str, Decimal, bool]]:
    return [
        (a.kind, leg.symbol, leg.side, leg.quantity, leg.reduce_only)
        for a in actions
        for leg in a.legs
    ]


ENTRY_CASES = [
    # (id, config changes, perp kwargs, expected legs)
    (
        "carry positive: short perp + buy spot",
        {},
        {"rate": "0.0005"},
        [
            ("open", "BTC_USDC_PERP", "Ask", D(10), False),
            ("open", "BTC_USDC", "Bid", D(10), False),
        ],
    ),
    ("carry negative, hedge-only: nothing", {}, {"rate": "-0.0005"}, []),
    (
        "carry negative, unhedged allowed: long perp",
        {"allow_unhedged": "on"},
        {"rate": "-0.0005"},
        [("open", "BTC_USDC_PERP", "Bid", D(10), False)],
    ),
    ("carry positive, no spot market: nothing", {}, {"rate": "0.0005", "spot": False}, []),
    (
        "directional positive: short",
        {"kind": "directional"},
        {"rate": "0.0005"},
        [("open", "BTC_USDC_PERP", "Ask", D(10), False)],
    ),
    (
        "directional negative: long",
        {"kind": "directional"},
        {"rate": "-0.0005"},
        [("open", "BTC_USDC_PERP", "Bid", D(10), False)],
    ),
    ("inside the seed's ±0.0001 band: nothing", {"kind": "directional"}, {"rate": "0.0001"}, []),
    ("just below −0.0001 band edge: nothing", {"kind": "directional"}, {"rate": "-0.00009"}, []),
    # 0.00015 × 24 h × 1000 = 3.6 USDC; carry costs 3 fees + 0.4 slippage → edge 0.2 < 0.5
    ("fee-aware: carry does not pay", {}, {"rate": "0.00015"}, []),
    (
        "fee-aware: directional pays (half the fees)",
        {"kind": "directional"},
        {"rate": "0.00015"},
        [("open", "BTC_USDC_PERP", "Ask", D(10), False)],
    ),
    ("slippage-aware: 1% half-spread eats the edge", {}, {"half_spread": "0.01"}, []),
    ("book too thin for the size", {}, {"depth": "5"}, []),
    ("24h volume below the minimum", {}, {"volume": "50000"}, []),
    ("allow-list excludes it", {"symbols": "ETH,SOL"}, {}, []),
    (
        "allow-list by base includes it",
        {"symbols": "btc", "kind": "directional"},
        {"spot": False, "rate": "0.0005"},
        [("open", "BTC_USDC_PERP", "Ask", D(10), False)],
    ),
    ("size rounds below the minimum step", {"trade_notional": "5"}, {"step": "1"}, []),
]


@pytest.mark.parametrize(
    ("config", "perp_kw", "expected"),
    [c[1:] for c in ENTRY_CASES],
    ids=[c[0] for c in ENTRY_CASES],
)
def test_entry(config: dict[str, str], perp_kw: dict[str, object], expected: list[object]) -> None:
    actions = decide(snap(perp(**perp_kw)), book(), cfg(**config), NOW)  # type: ignore[arg-type]
    assert legs(actions) == expected


def test_entry_edge_accounts_fees_and_slippage() -> None:
    (c,) = candidates(snap(perp(rate="0.0005")), book(), StrategyConfig(), NOW)
    assert c.eligible
    assert c.expected_funding == D("12.0000")  # 0.0005 × 1000 × 24
    # 2 × (5 bps × 1000 perp + 10 bps × 10 × 100.01 spot at its ask)
    assert c.fees == D("3.0002")
    assert c.slippage == D("0.4")  # 1 bp per leg, walked twice
    assert c.edge == c.expected_funding - c.fees - c.slippage


def test_min_edge_margin_blocks_a_thin_edge() -> None:
    # rate 0.0002: 4.8 expected − 3.4 costs = 1.4 USDC edge
    assert decide(snap(perp(rate="0.0002")), book(), cfg(min_edge_bps="10"), NOW)
    assert not decide(snap(perp(rate="0.0002")), book(), cfg(min_edge_bps="20"), NOW)


EXIT_CASES = [
    # (id, position, perp kwargs, config changes, expected reason fragment or None)
    ("funding flipped", short_carry(), {"rate": "-0.0001"}, {}, "flipped"),
    ("hysteresis: between exit and entry, keep", short_carry(), {"rate": "0.00005"}, {}, None),
    ("below the exit threshold", short_carry(), {"rate": "0.00002"}, {}, "exit threshold"),
    ("max holding time", short_carry(age_h=80), {"rate": "0.0005"}, {}, "max"),
    ("young and earning: keep", short_carry(age_h=10), {"rate": "0.0005"}, {}, None),
    (
        "stop-loss on a naked long",
        long_directional(),
        {"rate": "-0.0005", "mark": "96"},
        {"kind": "directional"},
        "stop-loss",
    ),
    (
        "the exchange holds the stop: the cycle leaves it alone",
        long_directional(),
        {"rate": "-0.0005", "mark": "96"},
        {"kind": "directional", "stop_on_exchange": "on"},
        None,
    ),
    (
        "loss inside the stop: keep",
        long_directional(),
        {"rate": "-0.0005", "mark": "98"},
        {"kind": "directional"},
        None,
    ),
    (
        "hedged carry ignores a price crash",
        short_carry(),
        {"rate": "0.0005", "mark": "50"},
        {},
        None,
    ),
    (
        "long loses when funding turns positive",
        long_directional(),
        {"rate": "0.0002"},
        {},
        "flipped",
    ),
]


@pytest.mark.parametrize(
    ("position", "perp_kw", "config", "reason"),
    [c[1:] for c in EXIT_CASES],
    ids=[c[0] for c in EXIT_CASES],
)
def test_exit(
    position: object, perp_kw: dict[str, object], config: dict[str, str], reason: str | None
) -> None:
    actions = decide(snap(perp(**perp_kw)), book(position), cfg(**config), NOW)  # type: ignore[arg-type]
    closes = [a for a in actions if a.kind == "close"]
    if reason is None:
        assert closes == []
    else:
        (close,) = closes
        assert reason in close.reason


def test_close_legs_are_reduce_only_perp_and_spot_sale() -> None:
    (a,) = decide(snap(perp(rate="-0.0002")), book(short_carry()), StrategyConfig(), NOW)
    assert legs([a]) == [
        ("close", "BTC_USDC_PERP", "Bid", D(10), True),
        ("close", "BTC_USDC", "Ask", D(10), False),
    ]


def test_hysteresis_does_not_reopen_between_thresholds() -> None:
    """Rate 0.00005: an open position stays, a flat book does not enter."""
    c = StrategyConfig()
    assert decide(snap(perp(rate="0.00005")), book(short_carry()), c, NOW) == []
    assert decide(snap(perp(rate="0.00005")), book(), c, NOW) == []


def test_max_positions_takes_the_best_edge() -> None:
    s = snap(perp("BTC_USDC_PERP", rate="0.0004"), perp("ETH_USDC_PERP", rate="0.0009"))
    actions = decide(s, book(), cfg(max_positions="1"), NOW)
    assert [a.symbol for a in actions] == ["ETH_USDC_PERP"]


def test_total_notional_cap_shrinks_the_last_entry() -> None:
    s = snap(perp("BTC_USDC_PERP", rate="0.0009"), perp("ETH_USDC_PERP", rate="0.0008"))
    c = cfg(max_notional_per_symbol="1000", max_notional_total="1500")
    actions = decide(s, book(), c, NOW)
    assert [(a.symbol, a.legs[0].quantity) for a in actions] == [
        ("BTC_USDC_PERP", D(10)),
        ("ETH_USDC_PERP", D(5)),
    ]


def test_existing_position_counts_against_limits() -> None:
    s = snap(perp("BTC_USDC_PERP", rate="0.0009"), perp("ETH_USDC_PERP", rate="0.0008"))
    actions = decide(s, book(short_carry()), cfg(max_positions="1"), NOW)
    assert actions == []  # BTC already open (no duplicate), no slot for ETH


def test_exit_frees_a_slot_in_the_same_cycle() -> None:
    s = snap(perp("BTC_USDC_PERP", rate="-0.0002"), perp("ETH_USDC_PERP", rate="0.0008"))
    actions = decide(s, book(short_carry()), cfg(max_positions="1"), NOW)
    assert [(a.kind, a.symbol) for a in actions] == [
        ("close", "BTC_USDC_PERP"),
        ("open", "ETH_USDC_PERP"),
    ]


@pytest.mark.parametrize(
    ("minutes_ago", "opens"), [(30, False), (59, False), (61, True), (600, True)]
)
def test_cooldown_after_exit(minutes_ago: int, opens: bool) -> None:
    exits = {"BTC_USDC_PERP": NOW - minutes_ago * 60_000}
    actions = decide(snap(perp()), book(exits=exits), StrategyConfig(), NOW)
    assert bool(actions) is opens


def test_candidates_explain_themselves() -> None:
    s = snap(perp("BTC_USDC_PERP", rate="0.0005"), perp("ETH_USDC_PERP", rate="0.00001"))
    exits = {"BTC_USDC_PERP": NOW - HOUR // 2}
    cs = candidates(s, book(exits=exits), StrategyConfig(), NOW)
    assert [c.symbol for c in cs] == ["BTC_USDC_PERP", "ETH_USDC_PERP"]
    assert "cooling down" in cs[0].reason
    assert "entry" in cs[1].reason


def test_fill_estimate_walks_levels() -> None:
    levels = ((D(100), D(1)), (D(101), D(1)))
    assert fill_estimate(levels, D("1.5")) == D("100.3333333333333333333333333")
    assert fill_estimate(levels, D(3)) is None


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("nope", "1", "unknown setting"),
        ("entry_rate", "abc", "not a number"),
        ("exit_rate", "0.001", "must be below entry_rate"),
        ("max_positions", "1.5", "whole number"),
        ("max_positions", "-1", "between 0 and 100"),
        ("allow_unhedged", "maybe", "on or off"),
        ("kind", "yolo", "directional, carry or cross"),
        ("trade_notional", "5000", "must not exceed"),
        ("symbols", "BTC;DROP", "not a symbol"),
        ("entry_rate", "NaN", "not a number"),
        ("entry_rate", "1e-5", "exponent"),
        ("entry_rate", "6%", "between 0.0001% and 5%"),
        ("trade_notional", "1,000", "comma"),
    ],
)
def test_config_validation(key: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        StrategyConfig().with_value(key, value)


def test_config_round_trips_through_text() -> None:
    c = cfg(kind="directional", symbols="BTC,ETH", allow_unhedged="on", entry_rate="0.0002")
    assert StrategyConfig.from_dict(c.to_dict()) == c
    assert c.to_dict()["symbols"] == "BTC,ETH"


@pytest.mark.parametrize(
    ("key", "typed", "value", "shown"),
    [
        ("entry_rate", "0.01%", D("0.0001"), "0.01%"),
        ("entry_rate", "0.0002", D("0.0002"), "0.0002"),
        ("stop_loss_pct", "3%", D(3), "3%"),
        ("stop_loss_pct", "5", D(5), "5"),
        ("min_edge_bps", "0.05%", D(5), "0.05%"),
        ("trade_notional", "$1.5k", D(1500), "1500 USDC"),
        ("max_notional_total", "20000 usdc", D(20000), "20000 USDC"),
    ],
)
def test_a_typed_percent_is_a_percent_and_is_shown_as_typed(
    key: str, typed: str, value: Decimal, shown: str
) -> None:
    c = StrategyConfig(max_notional_per_symbol=D(2000)).with_value(key, typed)
    assert getattr(c, key) == value
    assert c.to_dict()[key] == shown
    again = StrategyConfig.from_dict(c.to_dict())
    assert getattr(again, key) == value


def test_a_stored_config_from_before_the_grammar_still_loads() -> None:
    old = {"entry_rate": "1E-5", "exit_rate": "0.000001", "max_positions": "3"}
    assert StrategyConfig.from_dict(old).entry_rate == D("0.00001")


def test_an_exchange_held_stop_replaces_the_cycle_check_for_unhedged_perps() -> None:
    from dataclasses import replace

    from bot.strategy.decide import exchange_stop_price
    from bot.strategy.model import StrategyPosition

    on = StrategyConfig(kind="directional", stop_loss_pct=D(3), stop_on_exchange=True)
    naked = StrategyPosition(
        symbol="BTC_USDC_PERP",
        kind="directional",
        perp_quantity=D("-0.1"),
        perp_entry=D(100000),
        opened_at_ms=0,
        entry_rate=D("0.001"),
    )
    assert exchange_stop_price(naked, on) == D(103000)
    assert exchange_stop_price(naked, replace(on, stop_on_exchange=False)) is None
    hedged = replace(naked, spot_symbol="BTC_USDC", spot_quantity=D("0.1"), spot_entry=D(100000))
    assert exchange_stop_price(hedged, on) is None
