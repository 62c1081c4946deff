"""Recovery never crosses desks (issue 21): ``python -m bot`` is SIGKILLed in the middle of desk
B's confirmed order (``BOT_CRASH_AT=answered``: the order went out and was answered, nothing
recorded yet); at the restart, recovery settles B's row and tells B's owner, and nobody of the
operator's desk hears of it, while the operator's desk (a pending confirmation, an alert) is
exactly as it was and still works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.desk_world import DAVE, rows_of
from tests.crash.harness import ALICE, TOKEN, BotProcess, Db, bot_env
from tests.fakes.telegram import FakeTelegram

BOB = 1002  # a trader of the operator's desk: hears its fills, never B's


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.mark.timeout(90)
async def test_recovery_after_a_crash_tells_only_the_desk_it_settles(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    env = bot_env(
        tg,
        tmp_path,
        SIGNUP="open",
        TELEGRAM_ALLOWED_USERS=f"{ALICE}:owner,{BOB}:trader",
        CONFIRM_TTL_SECONDS="3600",
    )
    bot = BotProcess(env, tmp_path / "console.log")
    db = Db(tmp_path / "bot.db")
    await bot.start(tg, crash_at="answered")
    try:
        alice_preview = await tg.ask(ALICE, "/buy BTC 0.01", contains="preview")
        await tg.ask(ALICE, "/alert BTC > 9000000", contains="#")
        await tg.ask(DAVE, "/start", contains="is open")
        preview = await tg.ask(DAVE, "/buy SOL 1", contains="preview")
        data = preview.button("Confirm")
        await tg.tap(DAVE, preview, data)
        await bot.wait_dead()  # killed itself between the exchange's answer and the journal
    finally:
        await bot.kill()
    token = data.removeprefix("tc:")
    assert db.confirmation(token) == "executing"
    operator_before = rows_of(db.path, "operator", (ALICE, BOB))
    mark = len(tg.messages)

    await bot.start(tg)  # recovery has run when this returns
    try:
        told = await tg.next_message(DAVE, "your confirmed order", after=mark, timeout=15)
        assert "SOL" in told.text and "filled" in told.text.lower(), told.text
        assert db.confirmation(token) not in ("executing", "pending")
        # The operator's desk was not touched by B's recovery, and nobody of it was told.
        assert rows_of(db.path, "operator", (ALICE, BOB)) == operator_before
        await tg.ask(ALICE, "/version", contains="backpack-bot")
        heard = [m.text[:80] for m in tg.messages[mark:] if m.chat_id in (ALICE, BOB)]
        assert heard == [tg.to(ALICE)[-1].text[:80]], heard  # only the /version reply
        # A's pending confirmation survived the crash and B's recovery: its ✅ still trades.
        answer = await tg.answer_to(
            await tg.tap(ALICE, alice_preview, alice_preview.button("Confirm")), 10
        )
        assert "Filled" in answer.text, answer.text
        mine = await tg.ask(DAVE, "/positions", contains="positions")
        assert "SOL_USDC_PERP" in mine.text and "BTC_USDC_PERP" not in mine.text
    finally:
        await bot.stop()
