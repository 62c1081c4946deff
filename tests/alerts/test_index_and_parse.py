"""The alert index against a linear scan, hysteresis, and the /alert grammar."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bot.alerts.index import AlertIndex, ArmedAlert, Hysteresis, linear_scan
from bot.alerts.parse import AlertSpec, AlertSyntaxError, check_price, parse_alert

D = Decimal


def test_fires_once_strictly_past_the_threshold() -> None:
    idx = AlertIndex()
    idx.add(ArmedAlert(1, "BTC", ">", D(100)))
    idx.add(ArmedAlert(2, "BTC", "<", D(90)))
    assert idx.crossed("BTC", D(99)) == []
    assert idx.crossed("BTC", D(100)) == []  # "> 100" is not met at exactly 100
    assert idx.crossed("BTC", D(90)) == []  # nor "< 90" at 90
    assert [a.id for a in idx.crossed("BTC", D("100.01"))] == [1]
    assert idx.crossed("BTC", D(101)) == []  # disarmed: never twice
    assert [a.id for a in idx.crossed("BTC", D(80))] == [2]
    assert len(idx) == 0
    assert idx.crossed("ETH", D(1)) == []


def test_same_threshold_and_removal() -> None:
    idx = AlertIndex()
    for i in range(5):
        idx.add(ArmedAlert(i, "BTC", ">", D(100)))
    assert idx.remove(3) and not idx.remove(3)
    assert sorted(a.id for a in idx.crossed("BTC", D(101))) == [0, 1, 2, 4]


def test_hysteresis_rearms_only_past_the_band() -> None:
    parked = Hysteresis()
    parked.park(ArmedAlert(1, "BTC", ">", D(100)), D("0.01"))
    parked.park(ArmedAlert(2, "BTC", "<", D(100)), D("0.01"))
    assert parked.released("BTC", D("99.5")) == []
    assert [a.id for a in parked.released("BTC", D("98.9"))] == [1]
    assert parked.released("BTC", D("100.5")) == []
    assert [a.id for a in parked.released("BTC", D("101.1"))] == [2]


def test_index_matches_a_linear_scan() -> None:
    rng = random.Random(5)
    idx = AlertIndex()
    alerts = [
        ArmedAlert(i, rng.choice(["BTC", "ETH"]), rng.choice("<>"), D(rng.randint(900, 1100)))
        for i in range(500)
    ]
    for a in alerts:
        idx.add(a)
    live = list(alerts)
    for _ in range(200):
        sym, price = rng.choice(["BTC", "ETH"]), D(rng.randint(850, 1150))
        expected = {a.id for a in linear_scan(live, sym, price)}
        got = {a.id for a in idx.crossed(sym, price)}
        assert got == expected
        live = [a for a in live if a.id not in got]


@pytest.mark.parametrize(
    ("args", "spec"),
    [
        ("BTC > 70000", AlertSpec("BTC", "price", ">", D(70000))),
        ("BTC>70000", AlertSpec("BTC", "price", ">", D(70000))),
        ("btc below 60000", AlertSpec("btc", "price", "<", D(60000))),
        ("BTC > 1.5k", AlertSpec("BTC", "price", ">", D(1500))),
        ("ETH change 5% 1h", AlertSpec("ETH", "change", "±", D("0.05"), 3600)),
        ("ETH change 2 15m", AlertSpec("ETH", "change", "±", D("0.02"), 900)),
        ("BTC funding > 0.05%", AlertSpec("BTC", "funding", ">", D("0.0005"))),
        ("SOL funding < -0.02%", AlertSpec("SOL", "funding", "<", D("-0.0002"))),
        ("BTC funding > 0.0005", AlertSpec("BTC", "funding", ">", D("0.0005"))),
        ("BTC funding apr > 30%", AlertSpec("BTC", "funding_apr", ">", D("0.30"))),
    ],
)
def test_grammar(args: str, spec: AlertSpec) -> None:
    assert parse_alert(args.split()) == spec


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("", "market"),
        ("BTC", "market"),
        ("BTC > abc", "number"),
        ("BTC = 5", "operator"),
        ("BTC > -5", "greater than zero"),
        ("BTC > nan", "not a number"),
        ("ETH change 0% 1h", "between"),
        ("ETH change 5% 30s", "window"),
        ("ETH change 5% 30d", "between 1 minute and 7 days"),
        ("BTC funding > 150%", "between -10% and 10%"),
        ("BTC funding >", "operator"),
        ("btc below 60,000", "comma"),
        ("BTC > 1e999999", "exponents"),
        ("BTC > 1e-30", "exponents"),
        ("BTC > 1,5", "comma"),
        ("BTC > " + "9" * 60, "too long"),
        ("BTC > 123456789012345678901", "21 digits"),
        ("BTC > \u0663", "non-ASCII digits"),
        ("BTC > inf", "not a number"),
        ("BTC funding > 1e-20%", "exponents"),
        ("BTC funding apr > 20000%", "between -10,000% and 10,000%"),
        ("<b>x</b> > 5", "not a market"),
    ],
)
def test_bad_grammar(args: str, problem: str) -> None:
    with pytest.raises(AlertSyntaxError) as err:
        parse_alert(args.split())
    assert problem in err.value.problem


def test_echo_keeps_the_operator_and_the_number_as_typed() -> None:
    assert parse_alert(["BTC", ">", "70000.50"]).echo == "> 70,000.5"
    assert parse_alert(["BTC", "above", "1.5k"]).echo == "above 1,500"
    funding = parse_alert(["BTC", "funding", ">", "0.00001%"]).echo
    assert funding == "funding > 0.00001% per interval"
    funding = parse_alert(["BTC", "funding", ">", "0.0005"]).echo  # a plain fraction: a percent
    assert funding == "funding > 0.05% per interval"


@pytest.mark.parametrize(
    ("threshold", "ok"),
    [("70", True), ("69999999", True), ("69", False), ("70000001", False)],
)
def test_price_threshold_within_1000x_of_the_price(threshold: str, ok: bool) -> None:
    spec = parse_alert(["BTC", ">", threshold])
    if ok:
        check_price(spec, D(70000))
    else:
        with pytest.raises(AlertSyntaxError, match="1/1000"):
            check_price(spec, D(70000))


def test_spread_alert_forms() -> None:
    from decimal import Decimal as D

    from bot.alerts.parse import AlertSyntaxError, parse_alert

    for text in ("BTC spread > 20% apr", "BTC spread apr > 20%", "BTC spread > 20"):
        spec = parse_alert(text.split())
        assert (spec.kind, spec.op, spec.threshold) == ("spread_apr", ">", D("0.2")), text
    for bad in ("BTC spread 20%", "BTC spread > -5% apr", "BTC spread > 20% 30%"):
        try:
            parse_alert(bad.split())
        except AlertSyntaxError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
