"""/daily, /weekly, /monthly, /stats and /version as a user sees them, after real fills on
the simulator (live mode over signed HTTP)."""

from __future__ import annotations

import logging

from tests.bot.conftest import ALICE, BOB, MALLORY, TOKEN, BotRunner
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair


async def trade(tg: FakeTelegram, text: str) -> None:
    p = await tg.ask(ALICE, text, "Nothing is sent")
    await tg.tap(ALICE, p, p.button("Confirm"))
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)


async def test_period_tables_and_stats_after_a_round_trip(
    live_bot: BotRunner, tg: FakeTelegram
) -> None:
    empty = await tg.ask(ALICE, "/stats", "Statistics")
    assert "No closed trades" in empty.text
    await trade(tg, "/buy BTC 0.01")
    await trade(tg, "/close BTC")

    daily = await tg.ask(ALICE, "/daily", "Daily PnL")
    rows = daily.text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert rows[0].split() == ["period", "tr", "realised", "funding", "fees", "net", "equity"]
    assert len(rows) == 1 + 1  # the header and today: no day before the account's first
    today = rows[-1].split()
    assert today[1] == "2"  # two fills today
    pnl = await tg.ask(ALICE, "/pnl day", "PnL")
    fees = today[4]
    assert f"fees {fees} USDC" in pnl.text  # the same numbers as /pnl
    assert (
        len((await tg.ask(ALICE, "/weekly 2", "Weekly PnL")).text.split("</pre>")[0].splitlines())
        == 1 + 1 + 1
    )  # the title, the header and this week: the account is new
    assert "Monthly PnL" in (await tg.ask(ALICE, "/monthly", "Monthly")).text

    stats = await tg.ask(ALICE, "/stats", "Statistics")
    assert "closed trades: 1" in stats.text and "win rate" in stats.text
    assert "maximum drawdown" in stats.text and "BTC_USDC_PERP" in stats.text


async def test_bad_counts_get_a_specific_answer(live_bot: BotRunner, tg: FakeTelegram) -> None:
    for text in ("/daily 0", "/daily 61", "/weekly two", "/monthly 1 2"):
        m = await tg.ask(ALICE, text, "How many periods")
        assert "1 to 60" in m.text


async def test_version_and_strangers(live_bot: BotRunner, tg: FakeTelegram) -> None:
    v = await tg.ask(ALICE, "/version", "backpack-bot")
    assert "0.1.0" in v.text or "unknown" in v.text
    refused = await tg.ask(MALLORY, "/daily", "private")
    assert "Daily" not in refused.text


async def test_health_lists_every_part(live_bot: BotRunner, tg: FakeTelegram) -> None:
    await live_bot.services.strategy.run_cycle()
    h = await tg.ask(ALICE, "/health", "Health")
    for part in ("price stream", "strategy", "database", "outbox", "backpack"):
        assert part in h.text.lower(), (part, h.text)
    assert "last cycle" in h.text and "answers in" in h.text and "0 queued" in h.text
    assert "reachable" in h.text


async def test_logs_are_for_owners_and_carry_no_secret(
    live_bot: BotRunner, tg: FakeTelegram, keys: KeyPair
) -> None:
    logging.getLogger("bot.test").warning("signing with %s for %s", keys.api_secret, TOKEN)
    refused = await tg.ask(BOB, "/logs", "role")
    assert "signing" not in refused.text
    m = await tg.ask(ALICE, "/logs 40", "log lines")
    assert "signing with &lt;secret&gt; for &lt;bot-token&gt;" in m.text
    assert keys.api_secret not in m.text and TOKEN not in m.text
    assert "1 to 40" in (await tg.ask(ALICE, "/logs 500", "How many lines")).text


async def test_every_report_example_in_help_is_accepted(
    live_bot: BotRunner, tg: FakeTelegram
) -> None:
    """/help once showed "/logs 50" while /logs refuses more than 40 lines."""
    manual = (await tg.ask(ALICE, "/help", "this manual")).text
    examples = [
        e.strip()
        for line in manual.replace("<i>", "").replace("</i>", "").splitlines()
        if line.strip().startswith(("/daily", "/weekly", "/monthly", "/logs")) and "—" not in line
        for e in line.split("·")
    ]
    assert "/daily 14" in examples and any(e.startswith("/logs ") for e in examples)
    for example in examples:
        answer = await tg.ask(ALICE, example)
        assert "⚠️" not in answer.text, (example, answer.text)
