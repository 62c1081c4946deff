"""One number format and words that do not mislead, through the fake Bot API (issue 18).

Every test here also runs the ``tg`` fixture's check: no message holds a ``/word`` that is not
one of the bot's commands.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

from bot.clock import FakeClock
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, false_commands, live_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair

#: A number written without thousands separators (5+ integer digits, not inside a word or id).
UNGROUPED = re.compile(r"(?<![\w.,/])\d{5,}(?:\.\d+)?(?![\w,])")


def ungrouped(html: str) -> list[str]:
    """Numbers of 10,000 and more written without separators, outside ``<code>`` (order ids
    and commands to type are code)."""
    return UNGROUPED.findall(re.sub(r"<code>.*?</code>", "", html))


async def _price(runner: BotRunner) -> Decimal:
    return await runner.services.market_api.get_price("BTC_USDC_PERP")


async def test_start_is_a_short_welcome_with_three_buttons(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    welcome = await tg.ask(ALICE, "/start")
    assert "PAPER" in welcome.text and "simulator" in welcome.text
    assert "USDC available, no open positions" in welcome.text
    assert len(welcome.text.splitlines()) <= 8
    assert [label for label, _ in welcome.buttons] == ["💲 Prices", "📊 Positions", "❓ Help"]
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, welcome, welcome.button("Prices")))
    prices = await tg.next_message(ALICE, "BTC_USDC_PERP", after=mark)
    assert "SOL_USDC_PERP" in prices.text
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, welcome, welcome.button("Positions")))
    await tg.next_message(ALICE, "no open positions", after=mark)
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, welcome, welcome.button("Help")))
    manual = await tg.next_message(ALICE, "/buy", after=mark)
    assert manual.text == (await tg.ask(ALICE, "/help")).text
    assert len(manual.text.splitlines()) > 20  # the manual, not the welcome


async def test_mode_live_explains_how_to_go_live(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/mode live")
    assert "TRADING_MODE=live" in reply.text and "BACKPACK_API_KEY" in reply.text
    assert "PAPER" in reply.text
    reply = await tg.ask(ALICE, "/mode paper")
    assert "already in paper mode" in reply.text
    reply = await tg.ask(ALICE, "/mode turbo")
    for choice in ("/mode</code>", "/mode paper", "/mode live"):
        assert choice in reply.text


async def test_refusals_list_every_choice_and_echo_symbols_in_capitals(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    reply = await tg.ask(ALICE, "/pnl month")
    for period in ("day", "week", "all"):
        assert f"/pnl {period}" in reply.text
    reply = await tg.ask(ALICE, "/chart xyz")
    assert "XYZ" in reply.text and "xyz" not in reply.text
    reply = await tg.ask(ALICE, "/strategy nonsense")
    for choice in ("config", "candidates", "off", "approve", "auto", "set"):
        assert f"/strategy {choice}" in reply.text
    reply = await tg.ask(ALICE, "/notify loud on")
    for toggle in ("funding", "positions", "fills", "strategy", "digest"):
        assert toggle in reply.text
    assert "/notify quiet 23-07" in reply.text and "/notify quiet off" in reply.text


async def test_typos_get_the_closest_command(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(ALICE, "/byu BTC 0.01")
    assert "did you mean <code>/buy BTC 0.01</code>?" in reply.text
    reply = await tg.ask(ALICE, "/poistions")
    assert "did you mean <code>/positions</code>?" in reply.text


async def test_strategy_fits_one_phone_screen(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    status = await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")
    assert len(status.text.splitlines()) <= 25, status.text
    assert "Top candidates" in status.text and "Open positions" in status.text
    assert sum(line.startswith(("✅", "·")) for line in status.text.splitlines()) <= 3
    assert "<code>entry_rate</code>" not in status.text  # the settings are /strategy config
    labels = [label for label, _ in status.buttons]
    assert "⚙️ Settings" in labels and "📋 All candidates" in labels
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, status, status.button("Settings")))
    config = await tg.next_message(ALICE, "Strategy settings", after=mark)
    assert config.text == (await tg.ask(ALICE, "/strategy config")).text
    # rates as percents, each labelled, defaults included
    assert "<code>entry_rate</code> 0.01% per interval" in config.text
    assert "<code>exit_rate</code> 0.003% per interval" in config.text
    assert "<code>trade_notional</code> 1,000.00 USDC" in config.text
    assert "0.0001" not in config.text and "0.00003" not in config.text
    mark = len(tg.messages)
    await tg.answer_to(await tg.tap(ALICE, status, status.button("Approve")))
    await tg.next_message(ALICE, "Strategy mode: 🙋 approve", after=mark)
    assert (await paper_bot.services.strategy.store.settings()).mode == "approve"
    every = await tg.ask(ALICE, "/strategy candidates", "Strategy candidates")
    rows = [line for line in every.text.splitlines() if line.startswith(("✅", "·"))]
    assert len(rows) > 3
    assert all(" per interval" in row for row in rows), rows
    assert "|rate|" not in every.text and "0.0000" not in every.text
    assert "0.00125%" not in every.text  # a rate is written once, as "+0.0013% per interval"


async def test_strategy_setting_refusal_is_in_percents_with_one_line_of_usage(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    reply = await tg.ask(ALICE, "/strategy set entry_rate 0.001%")
    assert (
        "exit_rate (0.003% per interval) must be below entry_rate (0.001% per interval)"
        in reply.text
    )
    assert len(reply.text.splitlines()) == 2, reply.text  # the problem, one line of usage
    reply = await tg.ask(ALICE, "/strategy set entry_rate 0.06")
    assert "between 0.0001% and 5%" in reply.text
    assert len(reply.text.splitlines()) == 2, reply.text
    saved = await tg.ask(ALICE, "/strategy set max_notional_total 50k", "saved")
    assert "50,000.00 USDC" in saved.text


async def test_refusals_write_numbers_like_every_other_message(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    # over MAX_ORDER_NOTIONAL (20,000 in these tests): the worth and the limit both grouped
    reply = await tg.ask(ALICE, "/buy BTC 2")
    assert "MAX_ORDER_NOTIONAL" in reply.text
    assert "limit of 20,000.00 USDC" in reply.text
    assert ungrouped(reply.text) == [], reply.text
    assert len(reply.text.splitlines()) == 2, reply.text  # the problem, one example
    p = await _price(paper_bot)
    reply = await tg.ask(ALICE, "/alert BTC > 1")
    assert "between" in reply.text and ungrouped(reply.text) == [], reply.text
    assert len(reply.text.splitlines()) == 2, reply.text
    level = (p * Decimal("1.5")).quantize(Decimal(1000))
    created = await tg.ask(ALICE, f"/alert BTC > {level}", "set:")
    listing = await tg.ask(ALICE, "/alerts", "Your alerts")
    written = f"{level:,f}"
    assert f"&gt; {written}" in created.text and f"&gt; {written}" in listing.text
    assert ungrouped(created.text + listing.text) == []


async def test_a_preview_writes_its_stop_loss_one_way(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    p = await _price(paper_bot)
    stop = (p * Decimal("0.9")).quantize(Decimal(1000))
    preview = await tg.ask(ALICE, f"/buy BTC 0.01 sl {stop}", "until you tap")
    lines = [line for line in preview.text.splitlines() if "stop-loss at" in line]
    assert len(lines) == 2, preview.text  # the order's line and the note with its PnL
    shown = {re.search(r"stop-loss at ([\d,.]+)", line).group(1) for line in lines}  # type: ignore[union-attr]
    assert len(shown) == 1, lines
    assert ungrouped(preview.text) == [], preview.text


async def test_a_limit_price_is_written_one_way_from_preview_to_orders(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    """It was "limit @ 90,000" above "rests on the book at 90,000.0" in one preview."""
    limit = ((await _price(paper_bot)) * Decimal("0.93")).quantize(Decimal(1000))
    preview = await tg.ask(ALICE, f"/buy BTC 0.01 @ {limit}", "until you tap")
    written = f"{limit:,.1f}"  # BTC's tick is 0.1
    assert f"limit @ {written}" in preview.text and f"book at {written}" in preview.text
    await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    await tg.wait_for(lambda: "resting on the book" in preview.text)
    assert f"resting on the book at {written}" in preview.text, preview.text
    orders = await tg.ask(ALICE, "/orders", "open orders")
    assert f"@ {written}" in orders.text, orders.text


async def test_a_size_beyond_the_book_names_its_asset(
    paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    reply = await tg.ask(ALICE, "/buy BTC 1000", "within reach")
    assert " BTC within reach" in reply.text and "order for 1,000 BTC" in reply.text, reply.text


def test_false_commands_are_found() -> None:
    assert false_commands("funding +0.0013%/interval") == ["/interval"]
    assert false_commands("see /help or <code>/foo</code>, bid/ask") == []
    assert false_commands("🧪 I don't know /byu") == ["/byu"]


async def test_an_expired_proposal_says_the_strategy_proposes_again(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    clock = FakeClock(time.time())
    runner = BotRunner(
        live_settings(
            tg, tmp_path, quiet_sim, keys, strategy_interval_seconds=5, confirm_ttl_seconds=30
        ),
        clock=clock,
    )
    await runner.start()
    try:
        await tg.ask(ALICE, "/strategy approve", "approve")
        await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
        proposal = await tg.next_message(ALICE, "Strategy proposes", timeout=15)
        assert "funding +0.1000% per interval" in proposal.text
        clock.advance(31)
        answer = await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")))
        assert "proposes it again" in answer.text
        await tg.wait_for(lambda: "proposes it again" in tg.find(proposal.message_id).text)
        assert "Send the command again" not in tg.find(proposal.message_id).text
    finally:
        await runner.stop()


async def test_two_pnl_at_once_both_answer(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    """Found while writing these tests: two /pnl at once inserted the same fill twice."""
    preview = await tg.ask(ALICE, "/buy BTC 0.01", "until you tap")
    await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")), 10)
    mark = len(tg.messages)
    await tg.send(ALICE, "/pnl")
    await tg.send(ALICE, "/pnl day")

    def answers() -> list[str]:
        return [m.text for m in tg.messages[mark:] if "PnL, " in m.text or "fault" in m.text]

    await tg.wait_for(lambda: len(answers()) >= 2)
    assert all("<b>PnL, " in text for text in answers()), answers()
