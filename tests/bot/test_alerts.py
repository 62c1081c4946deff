"""Alerts and watchers end to end: the simulator moves, the fake Telegram server receives."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bot.alerts.parse import parse_alert
from bot.alerts.service import AlertService
from bot.exchange.client import BackpackAPI
from bot.services.access import Actor
from bot.services.notices.outbox import Outbox
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

BTC = "BTC_USDC_PERP"


def live_settings(tg: FakeTelegram, tmp_path: Path, sim: Simulator, keys: KeyPair, **kw: object):  # type: ignore[no-untyped-def]
    return make_settings(
        tg,
        tmp_path,
        trading_mode="live",
        exchange="backpack",
        backpack_api_key=keys.api_key,
        backpack_api_secret=keys.api_secret,
        backpack_api_url=sim.rest_url,
        backpack_ws_url=sim.ws_url,
        **kw,
    )


async def last_price(runner: BotRunner, symbol: str = BTC) -> Decimal:
    api = runner.services.market_api
    assert api is not None
    return (await api.get_ticker(symbol))["lastPrice"]  # type: ignore[no-any-return]


def fired(tg: FakeTelegram, alert_id: int) -> int:
    return sum(len(re.findall(rf"alert #{alert_id} ·", m.text)) for m in tg.messages)


async def set_price(control: Control, price: Decimal, symbol: str = BTC) -> None:
    await control.post("price", {"symbol": symbol, "price": str(price)})


async def test_price_alert_fires_once_and_rearms_after_hysteresis(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    p = await last_price(live_bot)
    level = (p * Decimal("1.01")).quantize(Decimal(1))
    created = await tg.ask(ALICE, f"/alert BTC > {level}", "#")
    alert_id = int(re.search(r"#(\d+)", created.text).group(1))  # type: ignore[union-attr]
    await set_price(sim_control, p * Decimal("1.02"))
    msg = await tg.next_message(ALICE, f"alert #{alert_id}")
    assert "rose above" in msg.text and msg.button("Mute")
    await set_price(sim_control, p * Decimal("1.03"))  # still above: not again
    await asyncio.sleep(0.6)
    await set_price(sim_control, level * Decimal("0.999"))  # back, but inside the band
    await asyncio.sleep(0.6)
    await set_price(sim_control, p * Decimal("1.02"))
    await asyncio.sleep(0.8)
    assert fired(tg, alert_id) == 1
    await set_price(sim_control, level * Decimal("0.99"))  # past the band: re-armed
    await asyncio.sleep(0.6)
    await set_price(sim_control, p * Decimal("1.02"))
    await tg.wait_for(lambda: fired(tg, alert_id) == 2)
    await asyncio.sleep(0.5)
    assert fired(tg, alert_id) == 2


async def test_alerts_survive_a_restart(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    settings = live_settings(tg, tmp_path, quiet_sim, keys)
    runner = BotRunner(settings)
    await runner.start()
    p = await last_price(runner)
    await tg.ask(ALICE, f"/alert btc below {(p * Decimal('0.98')).quantize(Decimal(1))}", "#")
    await runner.stop()
    runner = BotRunner(settings)
    await runner.start()
    try:
        listing = await tg.ask(ALICE, "/alerts", "Your alerts")
        assert "BTC_USDC_PERP &lt;" in listing.text
        await set_price(sim_control, p * Decimal("0.97"))
        msg = await tg.next_message(ALICE, "fell below")
        assert "BTC_USDC_PERP" in msg.text
    finally:
        await runner.stop()


async def test_funding_alerts_per_interval_and_apr(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    await tg.ask(ALICE, "/alert BTC funding > 0.05%", "#")
    await tg.ask(ALICE, "/alert ETH funding apr > 300%", "#")
    await sim_control.post("funding", {"symbol": BTC, "rate": "0.001"})
    msg = await tg.next_message(ALICE, "funding &gt; 0.05%: now")
    assert "0.1" in msg.text
    await sim_control.post("funding", {"symbol": "ETH_USDC_PERP", "rate": "0.0005"})
    msg = await tg.next_message(ALICE, "APR &gt; 300.00%: now")
    assert "ETH_USDC_PERP" in msg.text


async def test_move_alert(live_bot: BotRunner, tg: FakeTelegram, sim_control: Control) -> None:
    p = await last_price(live_bot, "ETH_USDC_PERP")
    await tg.ask(ALICE, "/alert ETH change 5% 1h", "#")
    await asyncio.sleep(1.2)
    await set_price(sim_control, p * Decimal("0.94"), "ETH_USDC_PERP")
    msg = await tg.next_message(ALICE, "moved")
    assert "ETH_USDC_PERP" in msg.text and "−" in msg.text


async def test_list_delete_clear_and_bad_syntax(live_bot: BotRunner, tg: FakeTelegram) -> None:
    await tg.ask(ALICE, "/alert BTC > 1000000", "#")
    await tg.ask(ALICE, "/alert SOL < 1", "#")
    listing = await tg.ask(ALICE, "/alerts", "Your alerts")
    data = listing.button("🗑")
    answer = await tg.answer_to(await tg.tap(ALICE, listing, data))
    assert "removed" in answer.text
    listing = await tg.ask(ALICE, "/alerts", "Your alerts")
    assert listing.text.count("#") == 1
    reply = await tg.ask(ALICE, "/alert off 999")
    assert "no alert #999" in reply.text
    for bad, expect in [
        ("/alert BTC", "condition"),
        ("/alert BTC > abc", "number"),
        ("/alert BTC >> 5", "operator"),
        ("/alert NOPE > 5", "NOPE"),
        ("/alert BTC change 5%", "window"),
        ("/alert SOL_USDC funding > 0.01%", "spot"),
    ]:
        reply = await tg.ask(ALICE, bad)
        assert expect in reply.text, (bad, reply.text)
    cleared = await tg.ask(ALICE, "/alerts clear", "Removed")
    assert "1 alert" in cleared.text


async def test_stale_stream_falls_back_to_rest_and_recovers(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    runner = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys, stale_stream_seconds=1.0))
    await runner.start()
    try:
        p = await last_price(runner)
        await tg.ask(ALICE, f"/alert BTC > {(p * Decimal('1.01')).quantize(Decimal(1))}", "#")
        await sim_control.post("fault", {"kind": "drop_ws", "ms": 6000})
        await tg.next_message(ALICE, "REST polling", timeout=8)
        await set_price(sim_control, p * Decimal("1.02"))
        await tg.next_message(ALICE, "rose above", timeout=6)
        await tg.next_message(ALICE, "stream is back", timeout=12)
    finally:
        await runner.stop()


async def test_fill_notification_for_an_order_placed_elsewhere(
    live_bot: BotRunner, tg: FakeTelegram, quiet_sim: Simulator, keys: KeyPair
) -> None:
    async with BackpackAPI(
        keys.api_key, keys.api_secret, quiet_sim.rest_url, quiet_sim.ws_url, logging.getLogger("t")
    ) as other:
        await other.place_order(symbol=BTC, side="BUY", quantity="0.01", order_type="MARKET")
    msg = await tg.next_message(ALICE, "Fill")
    assert "BUY" in msg.text and "BTC_USDC_PERP" in msg.text


async def test_a_burst_of_200_alerts_is_delivered_batched(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    svc = live_bot.services.alerts
    assert isinstance(svc, AlertService)
    svc.max_per_user = 200  # above the chat's cap: this measures batching, not the cap
    p = await last_price(live_bot)
    ids = []
    for i in range(200):
        level = (p * (Decimal(1) + Decimal(i + 1) / 100000)).quantize(Decimal("0.1"))
        ids.append(
            (await svc.add(Actor(ALICE, "owner", ALICE), parse_alert(["BTC", ">", str(level)]))).id
        )
    calls_before = sum(1 for c in tg.calls if c[0] == "sendMessage")
    await set_price(sim_control, p * Decimal("1.01"))
    await tg.wait_for(lambda: all(fired(tg, i) == 1 for i in ids), timeout=10)
    sends = sum(1 for c in tg.calls if c[0] == "sendMessage") - calls_before
    assert sends < 40


async def test_quiet_hours_hold_alerts_until_they_end(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    reply = await tg.ask(ALICE, "/notify quiet 25-3")
    assert "did not get" in reply.text
    reply = await tg.ask(ALICE, "/notify fills off", "Saved")
    assert "fills and cancels: off" in reply.text
    hour = datetime.now(UTC).hour
    await tg.ask(ALICE, f"/notify quiet {hour}-{(hour + 1) % 24}", "Saved")
    p = await last_price(live_bot)
    await tg.ask(ALICE, f"/alert BTC > {(p * Decimal('1.01')).quantize(Decimal(1))}", "#")
    await set_price(sim_control, p * Decimal("1.02"))
    await asyncio.sleep(1.5)
    assert not any("rose above" in m.text for m in tg.messages)
    notifier = live_bot.services.outbox
    assert isinstance(notifier, Outbox) and len(notifier.held) == 1
    await tg.ask(ALICE, "/notify quiet off", "Saved")
    assert await notifier.release_held() == 1
    await tg.next_message(ALICE, "rose above")
