"""The shared input grammar for numbers and durations (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.services.chat.numbers import (
    NumberError,
    human_duration,
    parse_duration,
    parse_number,
    plain,
)

D = Decimal
ALL: dict[str, Any] = {"percent": "allow", "usdc": True, "suffixes": True}


@pytest.mark.parametrize(
    ("text", "rules", "value", "echo"),
    [
        ("0.5", {}, D("0.5"), "0.5"),
        (".5", {}, D("0.5"), "0.5"),
        ("5.", {}, D(5), "5"),
        ("+2", {}, D(2), "2"),
        ("60000", {}, D(60000), "60000"),
        ("0.01%", ALL, D("0.0001"), "0.01%"),
        ("-0.02%", {**ALL, "signed": True}, D("-0.0002"), "-0.02%"),
        ("5", {"percent": "assume"}, D("0.05"), "5%"),
        ("50%", {"percent": "require"}, D("0.5"), "50%"),
        ("$200", ALL, D(200), "200 USDC"),
        ("$ 200", ALL, D(200), "200 USDC"),
        ("200$", ALL, D(200), "200 USDC"),
        ("200usdc", ALL, D(200), "200 USDC"),
        ("200 USDC", ALL, D(200), "200 USDC"),
        ("0.01usdc", ALL, D("0.01"), "0.01 USDC"),
        ("1.5k", ALL, D(1500), "1500"),
        ("2m", ALL, D(2_000_000), "2000000"),
        ("$1.5k", ALL, D(1500), "1500 USDC"),
        ("0", {"zero": True}, D(0), "0"),
        ("0.00000001", {}, D("0.00000001"), "0.00000001"),
    ],
)
def test_good_numbers(text: str, rules: dict[str, Any], value: Decimal, echo: str) -> None:
    n = parse_number(text, what="x", example="e.g.", **rules)
    assert n.value == value
    assert n.text == echo  # stored and parsed again: no grouping
    assert n.echo.replace(",", "") == echo  # said back grouped (60,000)


@pytest.mark.parametrize(
    ("text", "rules", "problem"),
    [
        ("", {}, "missing"),
        ("abc", {}, "not a number"),
        ("1,5", ALL, "comma"),
        ("1e5", ALL, "exponents"),
        ("1E309", ALL, "exponents"),
        ("-1e-30", {**ALL, "signed": True}, "exponents"),
        ("inf", ALL, "not a number"),
        ("-Infinity", ALL, "not a number"),
        ("nan", ALL, "not a number"),
        ("9" * 60, ALL, "too long"),
        ("1" * 21, ALL, "21 digits"),
        ("\u0663", ALL, "non-ASCII"),
        ("\uff11\uff10", ALL, "non-ASCII"),
        ("\u22125", {"signed": True}, "not a minus"),
        ("1\u200b0", ALL, "invisible"),
        ("-5", ALL, "greater than zero"),
        ("0", ALL, "greater than zero"),
        ("5%", {}, "not a percentage"),
        ("$5", {}, "not a USDC amount"),
        ("5", {"percent": "require"}, "as a percentage"),
        ("1.5k", {}, "not a number"),
        ("5 k", ALL, "not a number"),
        ("$", ALL, "no digits"),
        ("1.2.3", ALL, "not a number"),
        ("0x10", ALL, "not a number"),
        ("11", {"high": D(10)}, "at most 10"),
        ("1", {"low": D(2), "high": D(3)}, "between 2 and 3"),
        ("20%", {"percent": "allow", "high": D("0.1")}, "at most 10%"),
    ],
)
def test_bad_numbers(text: str, rules: dict[str, Any], problem: str) -> None:
    with pytest.raises(NumberError) as err:
        parse_number(text, what="x", example="e.g. 5", **rules)
    assert problem in err.value.problem
    assert err.value.example == "e.g. 5"


def test_plain_never_writes_an_exponent() -> None:
    assert plain(D("1E+3")) == "1000"
    assert plain(D("1E-7")) == "0.0000001"
    assert plain(D("-0")) == "0"


@pytest.mark.parametrize(
    ("text", "seconds", "echo"),
    [
        ("15m", 900, "15 minutes"),
        ("1h", 3600, "1 hour"),
        ("36h", 129600, "36 hours"),
        ("14d", 14 * 86400, "14 days"),
        ("2 days", 2 * 86400, "2 days"),
        ("1w", 7 * 86400, "7 days"),
    ],
)
def test_durations(text: str, seconds: int, echo: str) -> None:
    d = parse_duration(text, what="window", example="", units="mhdw", low=60, high=30 * 86400)
    assert (d.seconds, d.echo) == (seconds, echo)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("36d", "between 1 day and 35 days"),
        ("0d", "between 1 day and 35 days"),
        ("7", "needs a unit"),
        ("7y", "needs a unit"),
        ("1.5d", "not a duration"),
        ("-3d", "not a duration"),
        ("\u0663d", "non-ASCII"),
        ("99999999d", "not a duration"),
    ],
)
def test_bad_durations(text: str, problem: str) -> None:
    with pytest.raises(NumberError) as err:
        parse_duration(text, what="window", example="", units="d", low=86400, high=35 * 86400)
    assert problem in err.value.problem


def test_human_duration() -> None:
    assert human_duration(336 * 3600) == "14 days"
    assert human_duration(90 * 60) == "90 minutes"
    assert human_duration(1) == "1 seconds" or human_duration(1) == "1 second"
