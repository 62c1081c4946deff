"""The one money formatter (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.render import alerts, money

D = Decimal


@pytest.mark.parametrize(
    ("value", "tick", "text"),
    [
        (D("96922.4"), None, "96,922.4"),
        (D("96922.4"), D("0.1"), "96,922.4"),
        (D("96922.45"), D("0.1"), "96,922.5"),
        (D("96922"), D("0.01"), "96,922.00"),
        (D("0.000012345678"), None, "0.0000123457"),
        (D("1.23456789"), None, "1.2346"),
        (D("1234.5678"), None, "1,234.57"),
        (D("1E+999999"), None, "(out of range)"),
        (D("NaN"), None, "(out of range)"),
        (None, None, "—"),
    ],
)
def test_price(value: Decimal | None, tick: Decimal | None, text: str) -> None:
    assert money.price(value, tick) == text


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (D("0.01000"), None, "0.01"),
        (D("1234.5"), None, "1,234.5"),
        (D("0.123456"), D("0.001"), "0.123"),
        (D("2"), D("0.01"), "2"),
        (D("0.0200"), D("0.00001"), "0.02"),
    ],
)
def test_size(value: Decimal, step: Decimal | None, text: str) -> None:
    assert money.size(value, step) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("9998.565392"), "9,998.57 USDC"),
        (D("0.000484515"), "0.00048 USDC"),
        (D("0.008946"), "0.0089 USDC"),
        (D("-0.001985"), "-0.0020 USDC"),
        (D("0.00999"), "0.01 USDC"),
        (D("0.0000001234"), "0.00000012 USDC"),
        (D("0.01"), "0.01 USDC"),
        (D(0), "0.00 USDC"),
        (D("-1234567.891"), "-1,234,567.89 USDC"),
    ],
)
def test_usdc(value: Decimal, text: str) -> None:
    assert money.usdc(value) == text


def test_signs_on_pnl_and_funding() -> None:
    assert money.signed_usdc(D("12.5")) == "+12.50 USDC"
    assert money.signed_usdc(D("-0.31")) == "-0.31 USDC"
    assert money.signed_usdc(D(0)) == "0.00 USDC"
    assert money.rate(D("0.0001")) == "+0.0100%"
    assert money.rate(D("-0.00005")) == "-0.0050%"


def test_amount_by_asset() -> None:
    assert money.amount(D("9998.565392"), "USDC") == "9,998.57 USDC"
    assert money.amount(D("0.5"), "BTC") == "0.5 BTC"


def test_fill_notice_is_grouped_and_shows_the_fee() -> None:
    text = alerts.fill(
        {
            "e": "orderFill",
            "s": "BTC_USDC_PERP",
            "S": "Bid",
            "i": "1",
            "l": "0.01",
            "L": "96922.4",
            "n": "0.000484515",
            "N": "USDC",
            "X": "Filled",
        }
    )
    assert text is not None
    assert "BUY 0.01 BTC_USDC_PERP at 96,922.4, fee 0.00048 USDC" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (money.rate(D("0.0000125"), "interval"), "+0.0013% per interval"),
        (money.rate(D("-0.00002"), "hour"), "-0.0020% per hour"),
        (money.rate(D("0.0001")), "+0.0100%"),
        (money.setting_rate(D("0.0001"), "interval"), "0.01% per interval"),
        (money.setting_rate(D("0.00003")), "0.003%"),
        (money.setting_rate(D("0.00001"), "interval"), "0.001% per interval"),
        (money.typed(D("100000")), "100,000"),
        (money.typed(D("90000.50")), "90,000.5"),
        (money.signed_usdc(D("0.008946")), "+0.0089 USDC"),
        (money.signed_usdc(D("-0.001985")), "-0.0020 USDC"),
        (money.price(D("100883.92"), D("0.01")), "100,883.92"),
        (money.size(D("0.123456"), D("0.00001")), "0.12346"),
    ],
)
def test_one_format_table(text: str, expected: str) -> None:
    """Rates are percents with what they are per, typed values grouped, small USDC 2 digits."""
    assert text == expected
    assert "/" not in text  # never "%/h": a chat client makes "/h" a command
