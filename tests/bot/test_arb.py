"""/funding and /arb across two venues: A through our client, B through ccxt's ``backpack``
class against a second simulator process whose funding is paid every 8 hours."""

from __future__ import annotations

from pathlib import Path

from jobs.watchers import check_spreads
from tests.bot.conftest import ALICE, BotRunner, make_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.simproc import SimProcess

BTC = "BTC_USDC_PERP"


async def set_funding(venue: SimProcess, symbol: str, rate: str) -> None:
    c = Control(venue)
    try:
        await c.post("funding", {"symbol": symbol, "rate": rate})
    finally:
        await c.close()


async def test_funding_compares_per_hour_across_intervals(
    cross_bot: BotRunner, tg: FakeTelegram, venue_a: SimProcess, venue_b: SimProcess
) -> None:
    # 0.01 % every hour against 0.08 % every 8 hours: the same money per hour.
    await set_funding(venue_a, BTC, "0.0001")
    await set_funding(venue_b, BTC, "0.0008")
    reply = await tg.ask(ALICE, "/funding BTC", "both venues")
    text = reply.text
    assert "+0.0100% per 1h = +0.0100%/h" in text
    assert "+0.0800% per 8h = +0.0100%/h" in text
    assert "spread 0 per hour" in text
    # Now B pays 0.24 % per 8 h = 0.03 %/h: a spread of 0.02 %/h = 175.2 % a year.
    await set_funding(venue_b, BTC, "0.0024")
    reply = await tg.ask(ALICE, "/funding BTC", "both venues")
    assert "spread +0.0200%/h · APR 175.20%" in reply.text
    assert "short backpack (hedge), long backpack" in reply.text
    assert "net <b>" in reply.text and "slippage" in reply.text and "fees" in reply.text
    assert "USDC per leg over 24h" in reply.text and "funding +" in reply.text


async def test_arb_lists_the_best_spread_first(
    cross_bot: BotRunner, tg: FakeTelegram, venue_a: SimProcess, venue_b: SimProcess
) -> None:
    await set_funding(venue_a, "ETH_USDC_PERP", "-0.0005")
    await set_funding(venue_b, "ETH_USDC_PERP", "0.004")
    reply = await tg.ask(ALICE, "/arb", "Best funding spreads")
    blocks = reply.text.split("\n\n")
    assert blocks[1].startswith("<b>ETH</b> spread APR 876.00%"), blocks[1]
    assert "short backpack (hedge) +0.0500%/h" in blocks[1]
    assert "long backpack -0.0500%/h" in blocks[1]
    assert reply.text.count(" spread APR ") >= 5  # every perp is listed on both venues


async def test_offline_hedge_is_a_second_simulator(tg: FakeTelegram, tmp_path: Path) -> None:
    runner = BotRunner(make_settings(tg, tmp_path, hedge_exchange="binanceusdm"))
    await runner.start()
    try:
        reply = await tg.ask(ALICE, "/arb", "Best funding spreads")
        assert "backpack vs binanceusdm (sim)" in reply.text
        reply = await tg.ask(ALICE, "/funding SOL", "both venues")
        assert "per 8h" in reply.text and "per 1h" in reply.text
    finally:
        await runner.stop()


async def test_arb_without_a_hedge_venue_says_how(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/arb")
    assert "HEDGE_EXCHANGE" in reply.text
    reply = await tg.ask(ALICE, "/funding BTC", "APR")
    assert "both venues" not in reply.text


async def test_spread_alert_fires_once_and_rearms(
    cross_bot: BotRunner, tg: FakeTelegram, venue_a: SimProcess, venue_b: SimProcess
) -> None:
    created = await tg.ask(ALICE, "/alert BTC spread > 100% apr", "Alert")
    assert "funding spread &gt; 100% APR" in created.text
    await set_funding(venue_a, BTC, "0.0001")
    await set_funding(venue_b, BTC, "0.0024")  # 0.02 %/h: 175.2 % APR
    await check_spreads(cross_bot.services)
    fired = await tg.next_message(ALICE, "funding spread across venues")
    assert "now <b>175.20%</b>" in fired.text
    mark = len(tg.messages)
    await check_spreads(cross_bot.services)  # still above: no second message
    await tg.ask(ALICE, "/help")
    assert not [m for m in tg.messages[mark:] if "funding spread across venues" in m.text]
    listing = await tg.ask(ALICE, "/alerts", "Your alerts")
    assert "funding spread across venues &gt; 100.00% APR" in listing.text


async def test_spread_alert_needs_a_hedge_venue(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/alert BTC spread > 20% apr")
    assert "HEDGE_EXCHANGE" in reply.text
