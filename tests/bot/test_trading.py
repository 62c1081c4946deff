"""Orders from the chat, each approved with one tap — and impossible to misuse.

The bot runs in live mode against an external simulator (real signed HTTP), so
``/_sim/state`` shows exactly what reached the exchange.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.services.access import Actor
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BOB, BotRunner, live_settings, make_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair


async def account(control: Control, keys: KeyPair) -> dict[str, Any]:
    state = await control.state()
    acc: dict[str, Any] = state["accounts"].get(keys.api_key, {})
    return acc


async def fills(control: Control, keys: KeyPair) -> list[dict[str, Any]]:
    return list((await account(control, keys)).get("fills", []))


async def position(control: Control, keys: KeyPair, symbol: str) -> Decimal:
    for p in (await account(control, keys)).get("positions", []):
        if p["symbol"] == symbol:
            return Decimal(str(p["netQuantity"]))
    return Decimal(0)


async def test_buy_preview_then_tap_fills_one_order(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    p = await tg.ask(ALICE, "/buy BTC 0.01")
    assert "LIVE" in p.text.upper() and "BTC_USDC_PERP" in p.text
    assert "0.01" in p.text
    assert await fills(sim_control, keys) == []  # nothing is sent before the tap
    qid = await tg.tap(ALICE, p, p.button("Confirm"))
    answer = await tg.answer_to(qid)
    assert "Filled" in answer.text
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)
    assert tg.find(p.message_id).reply_markup is None  # buttons removed
    assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal("0.01")


async def test_double_tap_places_exactly_one_order(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    p = await tg.ask(ALICE, "/sell ETH 0.5")
    data = p.button("Confirm")
    ids = [await tg.tap(ALICE, p, data) for _ in range(5)]
    answers = [await tg.answer_to(q) for q in ids]
    assert sum("Filled" in a.text for a in answers) == 1
    assert sum("Already" in a.text for a in answers) == 4
    assert len(await fills(sim_control, keys)) >= 1
    assert await position(sim_control, keys, "ETH_USDC_PERP") == Decimal("-0.5")


async def test_another_users_tap_is_refused(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    p = await tg.ask(ALICE, "/buy SOL 1")
    confirm, cancel = p.button("Confirm"), p.button("Cancel")
    answer = await tg.answer_to(await tg.tap(BOB, p, confirm))
    assert "Not yours" in answer.text and answer.show_alert
    answer = await tg.answer_to(await tg.tap(BOB, p, cancel))
    assert "Not yours" in answer.text
    assert await fills(sim_control, keys) == []
    answer = await tg.answer_to(await tg.tap(ALICE, p, cancel))
    assert "Cancelled" in answer.text
    await tg.wait_for(lambda: "Cancelled" in tg.find(p.message_id).text)
    answer = await tg.answer_to(await tg.tap(ALICE, p, confirm))
    assert "nothing" in answer.text.lower() or "exist" in answer.text.lower()
    assert await fills(sim_control, keys) == []


async def test_expired_confirmation_does_nothing(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    clock = FakeClock(time.time())
    runner = BotRunner(
        live_settings(tg, tmp_path, quiet_sim, keys, confirm_ttl_seconds=30),
        clock=clock,
    )
    await runner.start()
    try:
        p = await tg.ask(ALICE, "/buy BTC 0.01")
        clock.advance(31)
        answer = await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
        assert "expired" in answer.text
        await tg.wait_for(lambda: "Expired" in tg.find(p.message_id).text)
        assert await fills(sim_control, keys) == []
    finally:
        await runner.stop()


async def test_price_drift_shows_a_fresh_preview(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    p = await tg.ask(ALICE, "/buy BTC 0.01")
    first = p.text
    price = (await live_bot.services.market_api.get_ticker("BTC_USDC_PERP"))["lastPrice"]
    await sim_control.post(
        "price", {"symbol": "BTC_USDC_PERP", "price": str(price * Decimal("1.03"))}
    )
    answer = await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    assert "price moved" in answer.text
    await tg.wait_for(lambda: tg.find(p.message_id).text != first)
    fresh = tg.find(p.message_id)
    assert "moved" in fresh.text and fresh.reply_markup is not None
    assert await fills(sim_control, keys) == []
    answer = await tg.answer_to(await tg.tap(ALICE, fresh, fresh.button("Confirm")))
    assert "Filled" in answer.text
    assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal("0.01")


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        ("/buy NOPE 1", "NOPE"),
        ("/buy BTC -1", "greater than zero"),
        ("/buy BTC 0", "greater than zero"),
        ("/buy BTC abc", "abc"),
        ("/buy BTC 0.0000001", "0.0000001"),
        ("/buy BTC 0.01 @ 1", "below the market"),
        ("/buy BTC 0.5", "MAX_ORDER_NOTIONAL"),
        ("/buy BTC 1000", "smaller size"),
        ("/buy", "/buy BTC"),
        ("/close", "/close BTC"),
    ],
)
async def test_bad_input_gets_a_clear_message_and_no_order(
    live_bot: BotRunner,
    tg: FakeTelegram,
    sim_control: Control,
    keys: KeyPair,
    command: str,
    expect: str,
) -> None:
    reply = await tg.ask(ALICE, command)
    assert expect.lower() in reply.text.lower(), reply.text
    assert reply.reply_markup is None
    assert "Traceback" not in reply.text
    assert await fills(sim_control, keys) == []


async def test_close_partial_then_full_and_flat(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    flat = await tg.ask(ALICE, "/close BTC")
    assert "no open" in flat.text.lower()
    p = await tg.ask(ALICE, "/buy BTC 0.02", "until you tap")
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)
    half = await tg.ask(ALICE, "/close BTC 50%", "until you tap")
    assert "0.01" in half.text
    await tg.answer_to(await tg.tap(ALICE, half, half.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in tg.find(half.message_id).text)
    assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal("0.01")
    listing = await tg.ask(ALICE, "/positions", "<b>positions</b>")
    close_data = listing.button("Close")
    mark = len(tg.messages)
    await tg.tap(ALICE, listing, close_data)
    full = await tg.next_message(ALICE, "until you tap", after=mark)
    await tg.answer_to(await tg.tap(ALICE, full, full.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in tg.find(full.message_id).text)
    assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal(0)


async def test_restart_between_preview_and_tap(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    settings = live_settings(tg, tmp_path, quiet_sim, keys)
    first = BotRunner(settings)
    await first.start()
    p = await tg.ask(ALICE, "/buy BTC 0.01")
    await first.stop()
    second = BotRunner(settings)
    await second.start()
    try:
        data = p.button("Confirm")
        a1, a2 = await asyncio.gather(
            tg.answer_to(await tg.tap(ALICE, p, data)), tg.answer_to(await tg.tap(ALICE, p, data))
        )
        assert sorted(["Filled" in a1.text, "Filled" in a2.text]) == [False, True]
        assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal("0.01")
    finally:
        await second.stop()


async def test_paper_mode_trades_offline_and_survives_restart(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    settings = make_settings(tg, tmp_path)
    runner = BotRunner(settings)
    await runner.start()
    try:
        p = await tg.ask(ALICE, "/buy SOL $200")
        assert "PAPER" in p.text.upper()
        await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
        await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)
    finally:
        await runner.stop()
    runner = BotRunner(settings)
    await runner.start()
    try:
        listing = await tg.ask(ALICE, "/positions", "<b>positions</b>")
        assert "long" in listing.text.lower()
    finally:
        await runner.stop()


async def test_an_edited_command_never_trades(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    mark = len(tg.messages)
    sent = await tg.send(ALICE, "/buy BTC 0.001")
    first = await tg.next_message(ALICE, "order preview", after=mark)
    assert first.button("Confirm")
    mark = len(tg.messages)
    await tg.edit(ALICE, sent, "/buy BTC 0.002")
    refusal = await tg.next_message(ALICE, "Edits are ignored", after=mark)
    assert "new command" in refusal.text
    await asyncio.sleep(0.3)
    previews = [m for m in tg.to(ALICE) if any("Confirm" in label for label, _ in m.buttons)]
    assert previews == [first]  # no second live confirmation
    # An old /price edited into /cancel all cancels nothing; a read-only edit may answer again.
    price = await tg.send(ALICE, "/price BTC")
    await tg.next_message(ALICE, "BTC_USDC_PERP", after=mark)
    mark = len(tg.messages)
    await tg.edit(ALICE, price, "/cancel all")
    await tg.next_message(ALICE, "Edits are ignored", after=mark)
    await tg.edit(ALICE, price, "/price ETH")
    await tg.next_message(ALICE, "ETH_USDC", after=mark)
    assert await fills(sim_control, keys) == []
    # Alerts are state too: an old /alerts edited into /alerts clear clears nothing.
    level = (await live_bot.services.market_api.get_price("BTC_USDC_PERP")) * 2
    await tg.ask(ALICE, f"/alert BTC > {level.quantize(Decimal(1))}", "#")
    listing = await tg.send(ALICE, "/alerts")
    mark = len(tg.messages)
    await tg.edit(ALICE, listing, "/alerts clear")
    await tg.next_message(ALICE, "Edits are ignored", after=mark)
    assert len(await live_bot.services.alerts.for_user(Actor(ALICE, "owner", ALICE))) == 1
