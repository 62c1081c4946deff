"""The intent parser: a table of good and bad inputs (pure, no network)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.services.orders.intent import (
    CloseIntent,
    IntentError,
    MultiLeg,
    OrderIntent,
    parse_close,
    parse_order,
)

D = Decimal


@pytest.mark.parametrize(
    ("side", "text", "expected"),
    [
        ("buy", "BTC 0.01", OrderIntent("buy", "BTC", quantity=D("0.01"))),
        ("sell", "ETH 0.5", OrderIntent("sell", "ETH", quantity=D("0.5"))),
        ("buy", "sol $200", OrderIntent("buy", "sol", notional=D(200))),
        ("buy", "SOL 200$", OrderIntent("buy", "SOL", notional=D(200))),
        ("buy", "SOL 200 usdc", OrderIntent("buy", "SOL", notional=D(200))),
        ("buy", "SOL 250.5USDC", OrderIntent("buy", "SOL", notional=D("250.5"))),
        ("buy", "BTC 0.01 @ 60000", OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(60000))),
        ("buy", "BTC 0.01@60000", OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(60000))),
        ("buy", "BTC 0.01 @60000", OrderIntent("buy", "BTC", quantity=D("0.01"), price=D(60000))),
        (
            "sell",
            "ETH 0.5 @ 3500 post",
            OrderIntent("sell", "ETH", quantity=D("0.5"), price=D(3500), post_only=True),
        ),
        (
            "sell",
            "BTC_USDC_PERP 0.002 reduce",
            OrderIntent("sell", "BTC_USDC_PERP", quantity=D("0.002"), reduce_only=True),
        ),
        (
            "buy",
            "BTC .5 POST @ 90000 reduce-only",
            OrderIntent(
                "buy", "BTC", quantity=D("0.5"), price=D(90000), post_only=True, reduce_only=True
            ),
        ),
        ("buy", "BTC +0.01", OrderIntent("buy", "BTC", quantity=D("0.01"))),
    ],
)
def test_good_orders(side: str, text: str, expected: OrderIntent) -> None:
    assert parse_order("buy" if side == "buy" else "sell", text) == expected


def test_args_list_is_the_same_as_text() -> None:
    assert parse_order("buy", ["BTC", "0.01", "@", "60000"]) == parse_order(
        "buy", "BTC 0.01 @ 60000"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "what to buy"),
        ("BTC", "size is missing"),
        ("BTC @ 60000", "size is missing"),
        ("BTC abc", "'abc' is not a number"),
        ("BTC 0", "greater than zero"),
        ("BTC 0.000", "greater than zero"),
        ("BTC -1", "greater than zero"),
        ("BTC $-5", "greater than zero"),
        ("BTC $0", "greater than zero"),
        ("BTC $abc", "not a number"),
        ("BTC 1e3", "not a number"),
        ("BTC NaN", "not a number"),
        ("BTC Infinity", "not a number"),
        ("BTC 0,01", "comma"),
        ("BTC 0.01 @", "price must follow"),
        ("BTC 0.01 @ abc", "limit price 'abc' is not a number"),
        ("BTC 0.01 @ 0", "greater than zero"),
        ("BTC 0.01 @ -5", "greater than zero"),
        ("BTC 0.01 @ 1 @ 2", "only once"),
        ("BTC 0.01 post", "needs a limit price"),
        ("BTC 0.01 banana", "don't understand 'banana'"),
        ("0.01 BTC", "not a market"),
        ("$200 SOL", "not a market"),
        ("BTC/USDC 1", "not a market"),
    ],
)
def test_bad_orders(text: str, problem: str) -> None:
    with pytest.raises(IntentError) as info:
        parse_order("buy", text)
    assert problem in info.value.problem
    assert "/buy BTC 0.01" in info.value.example


@pytest.mark.parametrize(
    ("text", "fraction"),
    [
        ("BTC", D(1)),
        ("btc all", D(1)),
        ("BTC 100%", D(1)),
        ("BTC 50%", D("0.5")),
        ("BTC 50 %", D("0.5")),
        ("ETH 12.5%", D("0.125")),
    ],
)
def test_good_close(text: str, fraction: Decimal) -> None:
    intent = parse_close(text)
    assert intent.fraction == fraction
    assert intent.market.upper() == text.split(maxsplit=1)[0].upper()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Which position"),
        ("BTC 50", "percentage"),
        ("BTC 0%", "greater than zero"),
        ("BTC -5%", "greater than zero"),
        ("BTC 150%", "at most 100%"),
        ("BTC abc%", "not a number"),
        ("BTC 50% now", "don't understand"),
    ],
)
def test_bad_close(text: str, problem: str) -> None:
    with pytest.raises(IntentError) as info:
        parse_close(text)
    assert problem in info.value.problem
    assert "/close BTC" in info.value.example


def test_intent_invariants() -> None:
    with pytest.raises(ValueError):
        OrderIntent("buy", "BTC")
    with pytest.raises(ValueError):
        OrderIntent("buy", "BTC", quantity=D(1), notional=D(1))
    with pytest.raises(ValueError):
        OrderIntent("buy", "BTC", quantity=D(1), post_only=True)
    with pytest.raises(ValueError):
        CloseIntent("BTC", D(0))
    with pytest.raises(ValueError):
        MultiLeg(legs=())


@pytest.mark.parametrize(
    ("text", "notional"),
    [("SOL $ 200", D(200)), ("SOL 200 $", D(200)), ("BTC 0.01usdc", D("0.01"))],
)
def test_notional_forms(text: str, notional: Decimal) -> None:
    assert parse_order("buy", text).notional == notional


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("BTC 1,000.5", "comma"),
        ("BTC 1e309", "not a number"),
        ("BTC " + "1" * 60, "too long"),
        ("BTC \u0661", "non-ASCII"),
        ("BTC $", "missing"),
    ],
)
def test_shared_grammar_refusals(text: str, problem: str) -> None:
    with pytest.raises(IntentError) as info:
        parse_order("buy", text)
    assert problem in info.value.problem


def test_stop_commands_parse() -> None:
    from bot.services.orders.intent import (
        StopIntent,
        StopOff,
        intent_from_json,
        intent_to_json,
        parse_stop,
    )

    assert parse_stop("sl", "BTC 60000") == StopIntent("sl", "BTC", trigger=Decimal(60000))
    assert parse_stop("tp", ["eth", "5", "%"]) == StopIntent("tp", "eth", distance=Decimal("0.05"))
    assert parse_stop("sl", "BTC off") == StopOff("sl", "BTC")
    intent = parse_order("buy", "BTC 0.01 sl 60000 tp 70000")
    assert (intent.stop_loss, intent.take_profit) == (Decimal(60000), Decimal(70000))
    for it in (intent, StopIntent("sl", "BTC", distance=Decimal("0.05"))):
        assert intent_from_json(intent_to_json(it)) == it
