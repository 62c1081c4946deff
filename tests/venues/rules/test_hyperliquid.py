"""Hyperliquid's rules against ccxt's own ``hyperliquid`` class: every request below is the one
ccxt builds and signs, caught at the HTTP call (no network)."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D
from typing import Any

import pytest

from bot.venues.ccxt_venue import CcxtVenue, make_exchange
from bot.venues.port import VenueError
from bot.venues.rules.hyperliquid import client_id_of_cloid, cloid, round_price
from tests.venues.rules import hl_fixture as fx
from tests.venues.rules.recorder import Recorder

BTC = "BTC/USDC:USDC"
ETH = "ETH/USDC:USDC"


def venue(
    *, vault: bool = False, slippage: str | None = None, leverage: int | None = None
) -> tuple[CcxtVenue, Recorder]:
    creds: dict[str, Any] = {"walletAddress": fx.MAIN, "privateKey": fx.AGENT_KEY}
    if vault:
        creds["vaultAddress"] = fx.VAULT
    ex = make_exchange(
        "hyperliquid",
        json.dumps(creds),
        None,
        slippage=D(slippage) if slippage else None,
        leverage=leverage,
    )
    rec = Recorder(ex)
    rec.info("metaAndAssetCtxs", fx.META_AND_CTXS)
    rec.info("l2Book", lambda r: fx.l2_book(r.json["coin"], *_books[r.json["coin"]]))
    rec.action("updateLeverage", fx.OK)
    rec.action("approveBuilderFee", fx.OK)
    rec.info("spotMeta", fx.SPOT_META)
    rec.info("userAbstraction", "default")
    return CcxtVenue(ex), rec


_books: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "BTC": ([("96990.0", "0.5"), ("96900.0", "2.0")], [("97010.0", "0.3"), ("97300.0", "1.0")]),
    "ETH": ([("3550.0", "10")], [("3550.3", "10")]),
}


def the_order(rec: Recorder) -> dict[str, Any]:
    (sent,) = rec.actions("order")
    assert sent["action"].get("builder", {"f": 0})["f"] == 0  # no fee to ccxt's builder
    (order,) = sent["action"]["orders"]
    return dict(order)


async def test_a_market_leg_is_an_ioc_limit_priced_from_the_book_within_the_slippage() -> None:
    v, rec = venue()
    rec.action("order", fx.filled("0.2", "96990.0"))
    got = await v.place_order(BTC, "sell", D("0.2"), client_id=4242)
    order = the_order(rec)
    assert order["t"] == {"limit": {"tif": "Ioc"}}
    assert order["b"] is False and order["s"] == "0.2" and order["r"] is False
    # best bid 96990 − 0.5 % = 96505.05; a 5-digit price is an integer, rounded towards the best
    assert order["p"] == "96506"
    assert D(order["p"]) >= D("96990") * (1 - D("0.005"))
    assert (got.status, got.filled, got.average_price) == ("open", D("0.2"), D("96990.0"))
    assert got.client_id == 4242


async def test_the_slippage_is_configurable_and_a_buy_is_capped_above_the_best_ask() -> None:
    v, rec = venue(slippage="0.002")
    rec.action("order", fx.filled("0.3", "97010.0"))
    await v.place_order(BTC, "buy", D("0.3"), client_id=7)
    order = the_order(rec)
    assert order["b"] is True and order["p"] == "97204"  # floor(97010 × 1.002)
    assert D(order["p"]) <= D("97010") * D("1.002")


async def test_a_book_too_thin_for_the_size_within_the_slippage_is_refused_unsent() -> None:
    v, rec = venue()
    with pytest.raises(VenueError, match=r"too thin: 1\.3 BTC within 0\.5 % of 97010"):
        await v.place_order(BTC, "buy", D("2"), client_id=8)
    assert rec.actions("order") == rec.actions("updateLeverage") == []


async def test_an_order_under_ten_dollars_is_refused_before_sending() -> None:
    v, rec = venue()
    with pytest.raises(VenueError, match="minimum order is 10 USDC"):
        await v.place_order(BTC, "buy", D("0.0001"), client_id=9)  # ≈ 9.75 USDC
    assert rec.actions("order") == rec.actions("updateLeverage") == []


async def test_sizes_go_to_sz_decimals_and_prices_to_five_significant_figures() -> None:
    v, rec = venue()
    rec.action("order", fx.filled("0.1234", "3550.3"))
    await v.place_order(ETH, "buy", D("0.123456"), client_id=10)
    order = the_order(rec)
    # ETH: szDecimals 4 → size 0.1234; price 3550.3 × 1.005 = 3568.05 → 5 figures, ≤ 2 decimals
    assert (order["s"], order["p"]) == ("0.1234", "3568")
    assert round_price(D("0.32305725"), 0, up=False) == D("0.32305")  # 5 figures, ≤ 6 decimals
    assert round_price(D("1.234567"), 4, up=True) == D("1.24")  # ≤ 6 − 4 decimals
    assert round_price(D("123456.7"), 5, up=False) == D("123456")  # integers always allowed
    assert round_price(D("3567.951"), 2, up=False) == D("3567.9")


async def test_client_ids_are_hex_cloids_the_journal_maps_back() -> None:
    v, rec = venue()
    rec.action("order", fx.filled("0.2", "96990.0"))
    await v.place_order(BTC, "sell", D("0.2"), client_id=0xFFFFFFFF)
    wire = the_order(rec)["c"]
    assert re.fullmatch(r"0x[0-9a-f]{32}", wire)
    assert wire == cloid(0xFFFFFFFF) == v.client_order_id(0xFFFFFFFF)
    assert client_id_of_cloid(wire) == 0xFFFFFFFF
    assert client_id_of_cloid("0x" + "12" * 16) is None  # another tool's cloid is not ours
    assert cloid(1) != cloid(2) and cloid(5) == cloid(5)


async def test_leverage_is_set_per_market_before_its_first_order_capped_at_max() -> None:
    v, rec = venue(leverage=50)
    rec.action("order", fx.filled("0.2", "96990.0"))
    await v.place_order(BTC, "sell", D("0.2"), client_id=11)
    await v.place_order(BTC, "sell", D("0.2"), client_id=12)
    kinds = [
        a["action"]["type"] for a in rec.actions() if a["action"]["type"] != "approveBuilderFee"
    ]
    assert kinds == ["updateLeverage", "order", "order"]  # and never ccxt's "setReferrer"
    lev = rec.actions("updateLeverage")[0]["action"]
    assert (lev["asset"], lev["isCross"], lev["leverage"]) == (0, True, 40)  # BTC max 40


async def test_orders_are_looked_up_by_cloid_for_the_account() -> None:
    v, rec = venue()
    want = cloid(31337)
    rec.info("orderStatus", lambda r: fx.order_status(r.json["oid"]))
    rec.info("userFills", fx.user_fills())  # the status carries no average price: the fills do
    found = await v.order_by_client_id(BTC, 31337)
    (asked,) = rec.sent(lambda r: (r.json or {}).get("type") == "orderStatus")
    assert asked.json == {"type": "orderStatus", "user": fx.MAIN, "oid": want}
    assert found is not None and found.average_price == D("96945")
    assert (found.client_id, found.status, found.side, found.filled) == (
        31337,
        "filled",
        "sell",
        D("0.2"),
    )


async def test_an_unknown_cloid_is_none() -> None:
    v, rec = venue()
    rec.info("orderStatus", {"status": "unknownOid"})
    assert await v.order_by_client_id(BTC, 5) is None


async def test_an_agent_wallet_signs_for_the_main_account_and_reads_are_the_main_accounts() -> None:
    v, rec = venue()
    rec.action("order", fx.filled("0.2", "96990.0"))
    rec.info("userFunding", fx.USER_FUNDING)
    await v.place_order(BTC, "sell", D("0.2"), client_id=13)
    sent = rec.actions("order")[0]
    assert set(sent["signature"]) == {"r", "s", "v"} and "vaultAddress" not in sent
    payments = await v.funding_payments()
    (asked,) = rec.sent(lambda r: (r.json or {}).get("type") == "userFunding")
    assert asked.json["user"] == fx.MAIN
    assert [(p.symbol, p.amount, p.rate) for p in payments] == [(BTC, D("1.25"), D("0.0000125"))]


async def test_with_a_vault_the_orders_act_for_it_and_reads_are_made_for_it() -> None:
    v, rec = venue(vault=True)
    rec.action("order", fx.filled("0.2", "96990.0"))
    rec.info("userFunding", [])
    await v.place_order(BTC, "sell", D("0.2"), client_id=14)
    assert rec.actions("order")[0]["vaultAddress"] == fx.VAULT.removeprefix("0x")
    await v.funding_payments()
    (asked,) = rec.sent(lambda r: (r.json or {}).get("type") == "userFunding")
    assert asked.json["user"] == fx.VAULT


async def test_funding_is_hourly_with_the_next_payment_on_the_hour() -> None:
    v, _ = venue()
    quote = await v.funding(BTC)
    assert (quote.rate, quote.interval_hours) == (D("0.0000125"), D(1))
    assert quote.next_funding_ms is not None and quote.next_funding_ms % 3_600_000 == 0


async def test_only_perps_are_read() -> None:
    v, rec = venue()
    assert set(await v.markets()) == {BTC, ETH, "DOGE/USDC:USDC"}
    kinds = {(r.json or {}).get("type") for r in rec.requests if r.path.endswith("/info")}
    # perps and the token list only: no spot or builder-deployed (HIP-3) markets
    assert kinds <= {"metaAndAssetCtxs", "spotMeta", "userAbstraction"}
