"""Stop-loss and take-profit from the chat: /sl, /tp, /buy … sl … tp …, /positions 🗑, the
refusals, and a triggered stop announced once — live mode against the quiet simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tests.bot.conftest import ALICE, BotRunner
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


async def pending(control: Control, keys: KeyPair) -> list[dict[str, Any]]:
    acc = (await control.state())["accounts"].get(keys.api_key, {})
    return [o for o in acc.get("orders", []) if o.get("status") == "TriggerPending"]


async def mark(bot: BotRunner) -> Decimal:
    (row,) = await bot.services.market_api.get_mark_prices(BTC)
    return Decimal(str(row["markPrice"]))


async def go_long(tg: FakeTelegram) -> None:
    p = await tg.ask(ALICE, "/buy BTC 0.01", "order preview")
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)


async def test_sl_preview_confirm_and_remove_from_positions(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    stop = (await mark(live_bot) * Decimal("0.95")).quantize(Decimal(1))
    p = await tg.ask(ALICE, f"/sl BTC {stop}", "STOP-LOSS")
    for part in ("trigger", "expected loss", "from mark", "from liquidation", "reduce-only"):
        assert part in p.text, part
    assert await pending(sim_control, keys) == []  # nothing before the tap
    answer = await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    assert "placed" in answer.text
    await tg.next_message(ALICE, "stop-loss set")
    (order,) = await pending(sim_control, keys)
    assert order["reduceOnly"] is True and order["side"] == "Ask"
    assert Decimal(str(order["triggerPrice"])) == stop
    assert Decimal(str(order["triggerQuantity"])) == Decimal("0.01")

    shown = await tg.ask(ALICE, "/positions", "positions")
    assert "SL" in shown.text and "TP —" in shown.text
    await tg.tap(ALICE, shown, shown.button("🗑 SL"))
    await tg.next_message(ALICE, "cancelled")
    assert await pending(sim_control, keys) == []


async def test_stops_on_the_wrong_side_are_refused(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    m = await mark(live_bot)
    above = (m * Decimal("1.02")).quantize(Decimal(1))
    reply = await tg.ask(ALICE, f"/sl BTC {above}", "mark")
    assert "must be below the mark price" in reply.text and "fire at once" in reply.text
    below = (m * Decimal("0.98")).quantize(Decimal(1))
    reply = await tg.ask(ALICE, f"/tp BTC {below}", "mark")
    assert "must be above the mark price" in reply.text
    assert await pending(sim_control, keys) == []


async def test_tp_as_a_distance_from_entry_then_off(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    (pos,) = await live_bot.services.account_api.get_positions()
    entry = Decimal(str(pos["entryPrice"]))
    p = await tg.ask(ALICE, "/tp BTC 5%", "TAKE-PROFIT")
    assert "expected gain" in p.text
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.next_message(ALICE, "take-profit set")
    (order,) = await pending(sim_control, keys)
    tick = (await live_bot.services.market_api.market(BTC)).tick_size
    assert abs(Decimal(str(order["triggerPrice"])) - entry * Decimal("1.05")) <= tick
    reply = await tg.ask(ALICE, "/tp BTC off", "take-profit")
    assert "removed" in reply.text
    assert await pending(sim_control, keys) == []


async def test_a_new_sl_replaces_the_old_one(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    m = await mark(live_bot)
    for factor in ("0.95", "0.9"):
        stop = (m * Decimal(factor)).quantize(Decimal(1))
        p = await tg.ask(ALICE, f"/sl BTC {stop}", "STOP-LOSS")
        await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
        await tg.wait_for(lambda: p.reply_markup is None)  # noqa: B023 - awaited here
        assert "stop-loss set" in p.text
    assert "replaces the current stop-loss" in p.text
    (order,) = await pending(sim_control, keys)
    assert Decimal(str(order["triggerPrice"])) == (m * Decimal("0.9")).quantize(Decimal(1))


async def test_buy_with_attached_sl_and_tp(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    m = await mark(live_bot)
    sl, tp = (m * Decimal("0.9")).quantize(Decimal(1)), (m * Decimal("1.1")).quantize(Decimal(1))
    p = await tg.ask(ALICE, f"/buy BTC 0.01 sl {sl} tp {tp}", "order preview")
    assert "stop-loss at" in p.text and "take-profit at" in p.text
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.next_message(ALICE, "filled at")
    orders = await pending(sim_control, keys)
    assert sorted(Decimal(str(o["triggerPrice"])) for o in orders) == [sl, tp]
    reply = await tg.ask(ALICE, f"/buy BTC 0.01 sl {tp}", "entry price")
    assert "must be below the entry price" in reply.text


async def test_a_triggered_stop_is_announced_once(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    m = await mark(live_bot)
    stop = (m * Decimal("0.97")).quantize(Decimal(1))
    p = await tg.ask(ALICE, f"/sl BTC {stop}", "STOP-LOSS")
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.next_message(ALICE, "stop-loss set")
    await sim_control.post("price", {"symbol": BTC, "price": str(stop - 50)})
    notice = await tg.next_message(ALICE, "Stop triggered", timeout=8)
    assert "SELL" in notice.text and BTC in notice.text
    await asyncio.sleep(1.0)  # a duplicate frame would arrive within this
    assert sum("Stop triggered" in m.text for m in tg.to(ALICE)) == 1
    assert await pending(sim_control, keys) == []
    assert await live_bot.services.account_api.get_position(BTC) is None


async def test_stops_work_in_paper_mode_and_show_in_orders(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    await go_long(tg)
    (pos,) = await paper_bot.services.account_api.get_positions()
    stop = (Decimal(str(pos["markPrice"])) * Decimal("0.9")).quantize(Decimal(1))
    p = await tg.ask(ALICE, f"/sl BTC {stop}", "STOP-LOSS")
    assert "PAPER" in p.text.upper()
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.next_message(ALICE, "stop-loss set")
    orders = await tg.ask(ALICE, "/orders", "open orders")
    assert "trigger" in orders.text and "SELL 0.01" in orders.text


async def test_a_stop_the_market_crossed_before_the_tap_is_not_placed(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    stop = (await mark(live_bot) * Decimal("0.97")).quantize(Decimal(1))
    p = await tg.ask(ALICE, f"/sl BTC {stop}", "STOP-LOSS")
    await sim_control.post("price", {"symbol": BTC, "price": str(stop - 100)})
    await asyncio.sleep(0.5)  # the streamed book follows the move
    answer = await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    assert "no longer passes" in answer.text
    await tg.wait_for(lambda: "fire at once" in tg.find(p.message_id).text)
    assert await pending(sim_control, keys) == []  # it would have fired at once: nothing sent
