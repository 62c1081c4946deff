"""Notices and the outbox never cross desks (issue 21), and the bot's log is not a window into
another desk.

Live, against one external simulator: the operator's desk (ALICE owner, BOB trader) holds BTC
on the environment's keys; desk B (DAVE owner, CAROL trader) holds SOL on its own keys,
connected through the key form. A fill on B's account (an order placed on the exchange, not
through the bot) is told to B's members only; each desk's funding and liquidation watchers read
their own desk's positions and tell their own members (the notices name BTC to A, SOL to B,
never the other's).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.exchange.client import BackpackAPI
from bot.services.access import Actor
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BOB, BotRunner, connect, desk_settings
from tests.bot.desk_world import CAROL, DAVE, code_of, db_path, open_desk
from tests.bot.tables import idle
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair

A_MEMBERS, B_MEMBERS = (ALICE, BOB), (DAVE, CAROL)
BTC, SOL = "BTC_USDC_PERP", "SOL_USDC_PERP"


async def test_only_the_operators_owners_read_the_log(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    await open_desk(tg)
    logging.getLogger("bot.orders").warning("operator desk: order 777123 was refused")
    mine = await tg.ask(ALICE, "/logs", contains="log lines")
    assert "777123" in mine.text  # the line is in the log: the check below can fail
    theirs = await tg.ask(DAVE, "/logs")
    assert "777123" not in theirs.text and "<pre>" not in theirs.text, theirs.text
    assert "only the owners of the operator's desk" in theirs.text


async def _buy(sim: Simulator, keys: KeyPair, symbol: str, qty: str) -> None:
    """An order placed on the exchange itself (its web page, another program): not the bot."""
    async with BackpackAPI(
        keys.api_key, keys.api_secret, sim.rest_url, sim.ws_url, logging.getLogger("test")
    ) as api:
        await api.place_order(symbol=symbol, side="BUY", quantity=qty, order_type="MARKET")


async def _run_now(bot: BotRunner, tg: FakeTelegram, name: str, told: Callable[[], object]) -> None:
    """Run the watcher job ``name`` now, as its timer would (never beside a run of its own),
    until ``told()``; a run already under way when B's desk was rebuilt may have missed it."""
    for _ in range(3):
        for job in bot.app.job_queue.get_jobs_by_name(name):
            job.job.modify(next_run_time=datetime.now(UTC))
        with contextlib.suppress(AssertionError):
            await tg.wait_for(told, 5)
            return
    raise AssertionError(f"{name} told nobody of desk B")


def _about(tg: FakeTelegram, users: tuple[int, ...], word: str, after: int) -> list[str]:
    return [m.text for m in tg.messages[after:] if m.chat_id in users and word in m.text]


async def test_fills_and_watchers_tell_only_their_own_desk(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    dave_keys = new_keypair()
    # Positions big enough to have a liquidation price, before the bot starts: A's, and B's on
    # B's own account.
    await _buy(quiet_sim, keys, BTC, "5")
    await _buy(quiet_sim, dave_keys, SOL, "1000")
    settings = desk_settings(
        tg,
        tmp_path,
        quiet_sim,
        keys,
        funding_notice_minutes=60,
        liquidation_warning_distance="0.99",  # every position is "near" liquidation
    )
    bot = BotRunner(settings)
    await bot.start()
    try:
        await open_desk(tg)
        server = bot.app.bot_data.dashboard
        assert (await connect(server.url, DAVE, dave_keys))["connected"] == "backpack"
        code = code_of((await tg.ask(DAVE, "/invite trader", contains="start=")).text)
        await tg.ask(CAROL, f"/start {code}", contains="joined")
        await tg.ask(BOB, "/notify")  # BOB's chat exists; he hears the operator's desk
        await tg.ask(DAVE, "/positions", contains=SOL)  # B is built, streams on
        await idle(bot, tg)
        mark = len(tg.messages)

        # A fill on B's account: B's members hear it, A's do not.
        await _buy(quiet_sim, dave_keys, SOL, "1")
        for user in B_MEMBERS:
            fill = await tg.next_message(user, "Fill: BUY 1 SOL_USDC_PERP", after=mark, timeout=10)
            assert "SOL" in fill.text
        await tg.ask(ALICE, "/version")  # the outbox has moved on past B's fill
        assert not _about(tg, A_MEMBERS, "SOL", mark)

        # Each desk's watchers read their own desk's positions and tell their own members.
        factory = bot.app.bot_data.factory
        a = await factory.get("operator")
        b = await factory.get(factory.shared.desks.active(DAVE).desk.id)
        for job, word in (("watch-liq", "from liquidation"), ("watch-funding", "Funding for")):
            await _run_now(bot, tg, job, functools.partial(_about, tg, (DAVE,), word, 0))
        notices = ("from liquidation", "Funding for")
        for word in notices:
            assert _about(tg, (ALICE,), word, 0) and _about(tg, (DAVE,), word, 0), word
            for text in _about(tg, A_MEMBERS, word, 0):
                assert BTC in text and "SOL" not in text, text
            for text in _about(tg, B_MEMBERS, word, 0):
                assert SOL in text and "BTC" not in text, text
        # What each desk's watchers read is its own account, and the marks they keep are its own.
        bot_actor = Actor.bot()
        assert {p.symbol for p in await a.watchers.account.positions(bot_actor)} == {BTC}
        assert {p.symbol for p in await b.watchers.account.positions(bot_actor)} == {SOL}
        with sqlite3.connect(db_path(bot)) as con:
            marks = con.execute("SELECT desk_id, key FROM watch_marks").fetchall()
        assert any(d == b.desk.id and SOL in k for d, k in marks), marks
        assert not [k for d, k in marks if d != b.desk.id and SOL in k], marks
        assert not [k for d, k in marks if d == b.desk.id and BTC in k], marks
    finally:
        await bot.stop()
