"""One event, one message; no stale buttons — live mode against the quiet simulator.

Counting messages needs a point where nothing more can come: each test waits until the fill
feed has handled the stream event in question (its ``seen`` / ``skipped`` counters), its held
groups are released and the outbox is drained — then the count is final.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from decimal import Decimal

from tests.bot.conftest import ALICE, BotRunner
from tests.bot.test_stops import go_long, mark, pending
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram, Sent
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` (state outside the chat: nothing wakes FakeTelegram's wait_for)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def settled(bot: BotRunner, tg: FakeTelegram, *, skipped: int = 0, seen: int = 0) -> None:
    """Wait until the feed has skipped/seen that many events, held nothing, sent everything."""
    feed = bot.services.fills
    await until(lambda: feed.skipped >= skipped and feed.seen >= seen and feed.idle)
    await bot.services.outbox.drain()


async def recorded(bot: BotRunner, kind: str, key: str) -> None:
    """Wait until the bot has recorded a button about ``key`` (written just after sending)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not await bot.services.events.live(kind, key):
        assert loop.time() < deadline, f"no button recorded for {kind} {key}"
        await asyncio.sleep(0.02)


async def confirm(tg: FakeTelegram, command: str, contains: str) -> Sent:
    p = await tg.ask(ALICE, command, contains)
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.wait_for(lambda: p.reply_markup is None)
    return p


async def test_one_tap_is_one_edit_and_no_new_message(
    live_bot: BotRunner, tg: FakeTelegram
) -> None:
    p = await tg.ask(ALICE, "/buy BTC 0.01", "order preview")
    before = len(tg.to(ALICE))
    answer = await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    assert "Filled" in answer.text
    await tg.wait_for(lambda: "filled at" in p.text)
    await settled(live_bot, tg, skipped=1)  # the stream's copy of the fill was skipped
    assert len(tg.to(ALICE)) == before  # nothing new: no "✅ BUY … filled", no "💱 Fill"
    assert p.edits == 1 and p.reply_markup is None


async def test_a_fired_stop_is_one_message_naming_its_cancelled_take_profit(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    m = await mark(live_bot)
    sl, tp = (m * Decimal("0.97")).quantize(Decimal(1)), (m * Decimal("1.05")).quantize(Decimal(1))
    await confirm(tg, f"/sl BTC {sl}", "STOP-LOSS")
    await confirm(tg, f"/tp BTC {tp}", "TAKE-PROFIT")
    orders = {o["triggerPrice"]: str(o["id"]) for o in await pending(sim_control, keys)}
    tp_id = next(oid for price, oid in orders.items() if Decimal(str(price)) == tp)
    closing = await tg.ask(ALICE, "/close BTC", "order preview")  # left untapped
    shown = await tg.ask(ALICE, "/positions", "positions")
    listed = shown.text  # as first sent (edited below once the stop fires)
    close, tp_button = shown.button("Close"), shown.button("🗑 TP")
    await recorded(live_bot, "order", tp_id)
    seen = live_bot.services.fills.seen
    before = len(tg.to(ALICE))

    await sim_control.post("price", {"symbol": BTC, "price": str(sl - 50)})
    notice = await tg.next_message(ALICE, "Stop triggered", after=before, timeout=8)
    await settled(live_bot, tg, seen=seen + 3)  # the TP's cancel, the stop's fill at least
    new = tg.to(ALICE)[before:]
    assert [n.message_id for n in new] == [notice.message_id]  # one message, no bare cancel
    assert "Cancelled with it" in notice.text and tp_id in notice.text
    # Named for what it was, every price to BTC's tick of 0.1 (not "95,982" beside "94,002.7")
    assert f"the take-profit at {tp:,.1f}" in notice.text, notice.text
    assert f"Stop triggered at {sl:,.1f}" in notice.text, notice.text
    assert f"SL {sl:,.1f} · TP {tp:,.1f}" in listed, listed

    # The /positions message lost every button: the position is closed, both stops are gone;
    # its text no longer shows the position open (an edit, not a new message).
    await tg.wait_for(lambda: shown.reply_markup is None or not shown.buttons)
    await tg.wait_for(lambda: "closed by its stop-loss at" in shown.text)
    assert f"<s>{BTC} LONG" in shown.text and "uPnL" not in shown.text, shown.text
    await tg.wait_for(lambda: not closing.buttons)  # the /close preview's ✅ went too
    late = await tg.answer_to(await tg.tap(ALICE, shown, close))
    assert late.text == f"{BTC} position is closed"
    late = await tg.answer_to(await tg.tap(ALICE, shown, tp_button))
    assert late.text == f"order {tp_id} already cancelled"
    assert len(tg.to(ALICE)) == before + 1  # a late tap is answered in a toast, nothing else


async def test_a_cancel_from_orders_is_one_message_and_drops_its_button(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    low = (await mark(live_bot) * Decimal("0.8")).quantize(Decimal(1))
    await confirm(tg, f"/buy BTC 0.01 @ {low}", "order preview")
    (resting,) = [
        o
        for o in (await sim_control.state())["accounts"][keys.api_key]["orders"]
        if o.get("status") == "New"
    ]
    oid = str(resting["id"])
    listing = await tg.ask(ALICE, "/orders", "open orders")
    data = listing.button(f"Cancel {oid}")
    await recorded(live_bot, "order", oid)
    seen = live_bot.services.fills.seen
    before = len(tg.to(ALICE))
    await tg.answer_to(await tg.tap(ALICE, listing, data))
    await tg.next_message(ALICE, "cancelled", after=before)
    await settled(live_bot, tg, seen=seen + 1)
    assert len(tg.to(ALICE)) == before + 1  # the reply; the stream's cancel is not echoed
    await tg.wait_for(lambda: all(d != data for _, d in listing.buttons))
    late = await tg.answer_to(await tg.tap(ALICE, listing, data))
    assert late.text == f"order {oid} already cancelled"


async def test_a_resting_order_that_fills_later_is_told_and_its_button_goes(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    m = await mark(live_bot)
    low = (m * Decimal("0.99")).quantize(Decimal(1))
    await confirm(tg, f"/buy BTC 0.01 @ {low}", "order preview")
    listing = await tg.ask(ALICE, "/orders", "open orders")
    (oid,) = [d.removeprefix("cxl:") for label, d in listing.buttons if label.startswith("Cancel ")]
    await recorded(live_bot, "order", oid)
    before = len(tg.to(ALICE))
    await sim_control.post("price", {"symbol": BTC, "price": str(low - 200)})
    fill = await tg.next_message(ALICE, "💱 Fill", after=before, timeout=8)
    assert oid in fill.text  # a fill the user did not see happen: told once
    await tg.wait_for(lambda: not listing.buttons)
    late = await tg.answer_to(await tg.tap(ALICE, listing, f"cxl:{oid}"))
    assert late.text == f"order {oid} already filled"


async def test_replacing_a_stop_posts_no_bare_cancel(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    m = await mark(live_bot)
    await confirm(tg, f"/sl BTC {(m * Decimal('0.95')).quantize(Decimal(1))}", "STOP-LOSS")
    (old,) = await pending(sim_control, keys)
    skipped = live_bot.services.fills.skipped
    before = len(tg.to(ALICE))
    p = await confirm(tg, f"/sl BTC {(m * Decimal('0.9')).quantize(Decimal(1))}", "STOP-LOSS")
    assert "replaces the current stop-loss" in p.text and "stop-loss set" in p.text
    (new,) = await pending(sim_control, keys)
    assert new["id"] != old["id"]
    await settled(live_bot, tg, skipped=skipped + 1)  # the old stop's cancel event, skipped
    assert len(tg.to(ALICE)) == before + 1  # the preview only: no "✖️ Order cancelled"


async def test_a_close_tap_is_one_edit_even_with_a_stop_going_with_the_position(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await go_long(tg)
    await confirm(tg, f"/sl BTC {(await mark(live_bot) * Decimal('0.9')).quantize(1)}", "STOP")
    p = await tg.ask(ALICE, "/close BTC", "order preview")
    skipped = live_bot.services.fills.skipped
    before = len(tg.to(ALICE))
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in p.text)
    # The close's fill and the stop the exchange cancelled with the position: both skipped.
    await settled(live_bot, tg, skipped=skipped + 2)
    assert await pending(sim_control, keys) == []
    assert len(tg.to(ALICE)) == before and p.edits == 1


async def test_cancel_by_id_of_a_filled_order_says_it_filled(
    live_bot: BotRunner, tg: FakeTelegram
) -> None:
    p = await tg.ask(ALICE, "/buy BTC 0.01", "order preview")
    await tg.answer_to(await tg.tap(ALICE, p, p.button("Confirm")))
    await tg.wait_for(lambda: "filled at" in p.text)
    oid = re.search(r"order <code>(\d+)</code>", p.text).group(1)  # type: ignore[union-attr]
    reply = await tg.ask(ALICE, f"/cancel {oid}")
    assert f"order {oid} already filled" in reply.text  # not "no open order with id"
