"""Desks tried as new users and attackers would: a tap after switching desks, an invite into
one's own desk, an invite code in a group, a full bot under ``SIGNUP=open``."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, connect, desk_settings, make_settings
from tests.bot.test_desks import code_of
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.webapp.conftest import init_data

DAVE = 4004
ERIN = 5005
GROUP = -100777


async def test_a_preview_tapped_after_switching_desks_acts_on_its_own_desk_once(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    link = await tg.ask(DAVE, "/invite trader", contains="start=")
    await tg.ask(ALICE, f"/start {code_of(link.text)}", contains="You joined")
    preview = await tg.ask(ALICE, "/buy BTC 0.01", contains="order preview")  # DAVE's desk
    shown = await tg.ask(ALICE, "/desk", contains="other desks")
    switch = await tg.tap(ALICE, shown, shown.button("Operator desk"))
    await tg.answer_to(switch)
    await tg.wait_for(lambda: "Now on" in tg.find(shown.message_id).text)

    answer = await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    assert "Filled" in answer.text, answer
    again = await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    assert "Filled" not in again.text  # once: the second tap places nothing
    daves = await tg.ask(DAVE, "/positions", contains="PAPER")
    assert "BTC_USDC_PERP" in daves.text and "0.01" in daves.text
    operators = await tg.ask(ALICE, "/positions", contains="PAPER")
    assert "BTC_USDC_PERP" not in operators.text  # the desk ALICE switched to: untouched
    desk = await tg.ask(ALICE, "/desk", contains="Your role")
    assert "Operator desk" in desk.text.split("\n")[0]  # the tap did not switch her back


async def test_close_under_positions_tapped_after_switching_closes_that_desks_position(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    link = await tg.ask(DAVE, "/invite trader", contains="start=")
    await tg.ask(ALICE, f"/start {code_of(link.text)}", contains="You joined")
    preview = await tg.ask(ALICE, "/buy BTC 0.01", contains="order preview")
    await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    held = await tg.ask(ALICE, "/positions", contains="BTC_USDC_PERP")  # DAVE's desk
    shown = await tg.ask(ALICE, "/desk", contains="other desks")
    await tg.answer_to(await tg.tap(ALICE, shown, shown.button("Operator desk")))
    await tg.wait_for(lambda: "Now on" in tg.find(shown.message_id).text)

    mark = len(tg.messages)
    await tg.tap(ALICE, held, held.button("Close"))
    close = await tg.next_message(ALICE, "order preview", after=mark)
    assert "SELL 0.01 BTC" in close.text, close.text
    answer = await tg.answer_to(await tg.tap(ALICE, close, close.button("Confirm")))
    assert "Filled" in answer.text
    daves = await tg.ask(DAVE, "/positions", contains="PAPER")
    assert "BTC_USDC_PERP" not in daves.text  # DAVE's desk is flat again


async def test_a_tap_on_a_desk_one_has_left_stays_on_the_active_desk(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    bot = open_bot
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    link = await tg.ask(DAVE, "/invite trader", contains="start=")
    await tg.ask(ALICE, f"/start {code_of(link.text)}", contains="You joined")
    preview = await tg.ask(ALICE, "/buy BTC 0.01", contains="order preview")
    desks = bot.app.bot_data.factory.shared.desks
    dave_desk = desks.active(DAVE).desk.id
    await desks.remove_member(dave_desk, DAVE, ALICE)  # DAVE takes ALICE off his desk
    answer = await tg.answer_to(await tg.tap(ALICE, preview, preview.button("Confirm")))
    assert "Filled" not in answer.text
    daves = await tg.ask(DAVE, "/positions", contains="PAPER")
    assert "BTC_USDC_PERP" not in daves.text


async def test_an_invite_into_ones_own_desk_says_so_and_stays_unused(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    link = await tg.ask(DAVE, "/invite viewer", contains="start=")
    code = code_of(link.text)
    own = await tg.ask(DAVE, f"/start {code}", contains="Backpack trading bot")
    assert "already on" in own.text and "as owner" in own.text
    joined = await tg.ask(ERIN, f"/start {code}", contains="Backpack trading bot")
    assert "You joined" in joined.text and "as viewer" in joined.text


async def test_an_invite_code_sent_in_a_group_is_refused_with_the_reason(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotRunner(make_settings(tg, tmp_path, signup="invite"))
    await bot.start()
    try:
        link = await tg.ask(ALICE, "/invite trader", contains="start=")
        code = code_of(link.text)
        for user in (ERIN, ALICE):  # a stranger, and a member
            mark = len(tg.messages)
            await tg.send(user, f"/start {code}", GROUP)
            said = await tg.next_message(GROUP, after=mark)
            assert "private chat" in said.text and "anyone in it" in said.text, said.text
        joined = await tg.ask(ERIN, f"/start {code}", contains="Backpack trading bot")
        assert "You joined" in joined.text  # the group did not spend the code
    finally:
        await bot.stop()


async def test_a_full_bot_under_open_signup_does_not_send_strangers_back_to_start(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotRunner(make_settings(tg, tmp_path, signup="open", max_desks=0))
    await bot.start()
    try:
        full = await tg.ask(ERIN, "/start")
        assert "as many desks as its operator allows" in full.text
        again = await tg.ask(ERIN, "/price BTC")
        assert "as many desks as its operator allows" in again.text, again.text
    finally:
        await bot.stop()


async def test_an_order_on_a_desk_whose_keys_were_revoked_says_what_to_do(
    desk_bot: BotRunner, tg: FakeTelegram, sim_control: Control
) -> None:
    bot = desk_bot
    dave_keys = new_keypair()
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    await connect(bot.app.bot_data.dashboard.url, DAVE, dave_keys)
    preview = await tg.ask(DAVE, "/buy BTC 0.01", contains="order preview")
    await sim_control.post("revoke", {"apiKey": dave_keys.api_key})
    answer = await tg.answer_to(await tg.tap(DAVE, preview, preview.button("Confirm")))
    assert "Rejected" in answer.text
    final = tg.find(preview.message_id)
    await tg.wait_for(lambda: "rejected" in final.text)
    assert "refused this desk's API key" in final.text, final.text
    assert "/connect backpack" in final.text and "nothing was traded" in final.text
    assert "X-API-Key" not in final.text
    told = await tg.ask(DAVE, "/balance", contains="refused")
    assert "/connect backpack" in told.text and "BACKPACK_API_KEY" not in told.text


async def test_desk_keeps_members_and_key_hints_out_of_a_group(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotRunner(make_settings(tg, tmp_path))  # GROUP is not in TELEGRAM_ALLOWED_GROUPS
    await bot.start()
    try:
        mark = len(tg.messages)
        await tg.send(ALICE, "/desk", GROUP)
        said = await tg.next_message(GROUP, after=mark)
        assert "Members" not in said.text and "private chat" in said.text, said.text
        shown = await tg.ask(ALICE, "/desk", contains="Members")  # in private: all of it
        assert "<code>1001</code> owner" in shown.text
    finally:
        await bot.stop()


async def test_a_member_of_many_desks_gets_a_keyboard_telegram_accepts(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    bot = open_bot
    desks = bot.app.bot_data.factory.shared.desks
    made = []
    for i in range(120):  # 120 owners each invite ERIN
        owner = 9000 + i
        desk = await desks.create(owner, f"Desk {i} " + "x" * 60)
        code = (await desks.invite(desk.desk.id, owner, "viewer")).code
        await desks.redeem(code, ERIN)
        made.append(desk.desk.id)
    mark = len(tg.messages)
    await tg.send(ERIN, "/desk")
    shown = await tg.next_message(ERIN, "Your role", after=mark)
    keyboard = await tg.wait_for(lambda: next((m for m in tg.messages[mark:] if m.buttons), None))
    buttons = keyboard.buttons
    assert 0 < len(buttons) <= 100
    assert all(len(data.encode()) <= 64 for _, data in buttons)
    text = "\n".join(m.text for m in tg.messages[mark:] if m.chat_id == ERIN)
    assert shown.text in text
    listed = [d for d in made if d in text]
    assert len(listed) + len(buttons) >= len(made)  # every other desk is reachable
    far = made[100]  # joined late: listed in the text, not on a button
    assert far not in {data.removeprefix("desk:use:") for _, data in buttons}
    now = await tg.ask(ERIN, f"/desk {far}", contains="Now on")
    assert "Desk 100" in now.text
    bad = await tg.ask(ERIN, "/desk " + "z" * 5000)
    assert "not a member" in bad.text


async def test_the_operators_desk_takes_no_connected_keys(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    settings = desk_settings(tg, tmp_path, quiet_sim, keys, signup="closed")
    bot = BotRunner(settings)
    await bot.start()
    try:
        said = await tg.ask(ALICE, "/connect backpack")
        assert "keys in the bot's settings" in said.text and "web_app" not in str(said.reply_markup)
        other = new_keypair()  # the form, posted anyway, stores nothing for the operator desk
        async with httpx.AsyncClient(base_url=bot.app.bot_data.dashboard.url) as http:
            r = await http.post(
                "/api/connect",
                json={
                    "initData": init_data(ALICE),
                    "venue": "backpack",
                    "fields": {"api_key": other.api_key, "api_secret": other.api_secret},
                },
            )
        assert r.status_code == 400 and "keys in the bot's settings" in r.text
        desk = await tg.ask(ALICE, "/desk", contains="Your role")
        assert "Keys: the bot's own" in desk.text and "not connected" not in desk.text
        bye = await tg.ask(ALICE, "/disconnect backpack")
        assert "keys in the bot's settings" in bye.text, bye.text
    finally:
        await bot.stop()


async def test_a_desk_name_from_a_first_name_cannot_plant_a_command_or_markup(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    tg.server.store.user_names[ERIN] = "/disconnect <b>x</b> " + "🚀" * 100
    welcome = await tg.ask(ERIN, "/start", contains="is open, on paper")
    assert "/disconnect" not in welcome.text and "&lt;b&gt;x&lt;∕b&gt;" in welcome.text
    desk = await tg.ask(ERIN, "/desk", contains="Your role")
    name = desk.text.split("</b>")[0]
    assert "∕disconnect" in name and len(name) < 100
