"""Alerts that already hold are not armed silently; "> x" is strict; mutes show in /alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.bot.conftest import ALICE, BotRunner
from tests.bot.test_alerts import last_price, set_price
from tests.bot.test_events import until
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram

BTC = "BTC_USDC_PERP"


async def test_an_alert_already_true_offers_arm_anyway_or_cancel(
    live_bot: BotRunner, tg: FakeTelegram
) -> None:
    p = await last_price(live_bot)
    low = (p / 60).quantize(Decimal(1))  # "1.5k" typed for "150k"
    reply = await tg.ask(ALICE, f"/alert BTC > {low}", "already")
    assert f"{BTC}</b> is already above {low:,}" in reply.text and "now" in reply.text
    assert reply.button("Arm anyway") and reply.button("Cancel")
    assert await live_bot.services.alerts.store.for_user(ALICE) == []  # nothing armed yet

    await tg.answer_to(await tg.tap(ALICE, reply, reply.button("Cancel")))
    await tg.wait_for(lambda: "Not armed" in reply.text and not reply.buttons)
    assert await live_bot.services.alerts.store.for_user(ALICE) == []

    again = await tg.ask(ALICE, f"/alert BTC > {low}", "already")
    answer = await tg.answer_to(await tg.tap(ALICE, again, again.button("Arm anyway")))
    assert "armed" in answer.text
    await tg.wait_for(lambda: "set:" in again.text and not again.buttons)
    (alert,) = await live_bot.services.alerts.store.for_user(ALICE)
    assert alert.threshold == low and alert.op == ">"
    fired = await tg.next_message(ALICE, f"alert #{alert.id} ·", timeout=8)  # as asked: at once
    assert "rose above" in fired.text


async def test_a_funding_alert_is_strict_at_its_threshold(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    await tg.ask(ALICE, "/alert BTC funding > 0.05%", "#")
    await sim_control.post("funding", {"symbol": BTC, "rate": "0.0005"})  # exactly 0.05 %
    rates = live_bot.services.market_api.funding_rates
    await until(lambda: rates.get(BTC) == Decimal("0.0005"))  # the bot has seen it
    await sim_control.post("funding", {"symbol": BTC, "rate": "0.00051"})
    msg = await tg.next_message(ALICE, "funding &gt; 0.05%: now")
    # It fired for 0.051 %, so it had not fired (and been disarmed) at exactly 0.05 %.
    assert "+0.0510%" in msg.text


async def test_a_muted_alert_shows_when_its_mute_ends(
    live_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    p = await last_price(live_bot)
    level = (p * Decimal("1.01")).quantize(Decimal(1))
    created = await tg.ask(ALICE, f"/alert BTC > {level}", "#")
    alert_id = int(re.search(r"#(\d+)", created.text).group(1))  # type: ignore[union-attr]
    await set_price(sim_control, p * Decimal("1.02"))
    fired = await tg.next_message(ALICE, f"alert #{alert_id}")
    answer = await tg.answer_to(await tg.tap(ALICE, fired, fired.button("Mute")))
    assert "muted" in answer.text
    ends = datetime.fromtimestamp(live_bot.services.clock.time(), UTC) + timedelta(hours=1)
    listing = await tg.ask(ALICE, "/alerts", "Your alerts")
    line = next(x for x in listing.text.splitlines() if x.startswith(f"#{alert_id} "))
    shown = re.search(r"muted until (\d\d):(\d\d) UTC", line)
    assert shown is not None, line
    at = ends.replace(hour=int(shown.group(1)), minute=int(shown.group(2)), second=0)
    assert abs((at - ends.replace(second=0, microsecond=0)).total_seconds()) <= 60
    assert "armed" not in line.split("(")[0]  # not listed as simply "armed"
