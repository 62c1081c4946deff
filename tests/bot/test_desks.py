"""Desks, end to end: joining by invite or by /start, switching, and two traders with their own
keys trading side by side in one bot, each seeing only their own account.

The live test runs the bot against an external simulator (real signed HTTP); the simulator's
``/_sim/state`` is the exchange's truth about whose account an order reached.
"""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import httpx
from eth_account import Account

from bot.sim import Simulator
from bot.sim.hyperliquid import HyperliquidSimulator
from jobs.desks import tell_refused
from tests.bot.conftest import ALICE, BOB, BotRunner, connect, desk_settings, make_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.simproc import UNTHROTTLED
from tests.webapp.conftest import init_data

CAROL = 3003
DAVE = 4004


def code_of(text: str) -> str:
    match = re.search(r"\?start=([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


async def position(control: Control, api_key: str, symbol: str) -> Decimal:
    state = await control.state()
    for p in state["accounts"].get(api_key, {}).get("positions", []):
        if p["symbol"] == symbol:
            return Decimal(str(p["netQuantity"]))
    return Decimal(0)


async def test_invite_joins_once_and_the_member_sees_the_operators_desk(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotRunner(make_settings(tg, tmp_path, signup="invite"))
    await bot.start()
    try:
        refused = await tg.ask(CAROL, "/price BTC")
        assert "invite link" in refused.text
        viewer = await tg.ask(BOB, "/invite viewer")  # BOB is a trader: owners invite
        assert "only an owner of this desk" in viewer.text
        link = await tg.ask(ALICE, "/invite viewer", contains="start=")
        assert "for one person" in link.text
        code = code_of(link.text)
        welcome = await tg.ask(CAROL, f"/start {code}", contains="joined")
        assert "Operator desk" in welcome.text and "viewer" in welcome.text
        shown = await tg.ask(CAROL, "/desk", contains="Operator desk")
        assert "Your role: <b>viewer</b>" in shown.text or "viewer" in shown.text
        used = await tg.ask(DAVE, f"/start {code}")
        assert "already been used" in used.text or "used" in used.text
        buy = await tg.ask(CAROL, "/buy BTC 0.01")  # a viewer may not trade
        assert "trade" in buy.text and "Confirm" not in str(buy.reply_markup)
    finally:
        await bot.stop()


async def test_open_signup_gives_each_stranger_their_own_paper_desk(
    open_bot: BotRunner, tg: FakeTelegram
) -> None:
    bot = open_bot
    welcome = await tg.ask(DAVE, "/start", contains="desk")
    assert "is open, on paper" in welcome.text
    preview = await tg.ask(DAVE, "/buy BTC 0.01", contains="order preview")
    confirm = preview.button("Confirm")
    answer = await tg.answer_to(await tg.tap(DAVE, preview, confirm))
    assert "Filled" in answer.text
    mine = await tg.ask(DAVE, "/positions", contains="BTC")
    assert "BTC_USDC_PERP" in mine.text
    theirs = await tg.ask(ALICE, "/positions")
    assert "BTC_USDC_PERP" not in theirs.text  # the operator's desk saw nothing of it
    # DAVE's confirmation token means nothing on ALICE's desk.
    answer = await tg.answer_to(await tg.tap(ALICE, preview, confirm))
    assert "does not exist" in answer.text
    factory = bot.app.bot_data.factory
    assert {d.desk.id for d in factory.loaded()} >= {"operator"}
    assert len(factory.shared.desks.all()) == 2


async def test_two_traders_with_their_own_keys_trade_side_by_side(
    desk_bot: BotRunner, tg: FakeTelegram, tmp_path: Path, sim_control: Control, keys: KeyPair
) -> None:
    bot = desk_bot
    dave_keys = new_keypair()
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    form = await tg.ask(DAVE, "/connect backpack", contains="Connect")
    assert "never through this chat" in form.text
    server = bot.app.bot_data.dashboard
    assert (await connect(server.url, DAVE, dave_keys))["connected"] == "backpack"
    desk = await tg.ask(DAVE, "/desk", contains="Backpack keys")
    assert "Trading: <b>live</b>" in desk.text and "connected (key" in desk.text

    for user, qty in ((ALICE, "0.01"), (DAVE, "0.02")):
        p = await tg.ask(user, f"/buy BTC {qty}", contains="order preview")
        assert "LIVE" in p.text.upper()
        answer = await tg.answer_to(await tg.tap(user, p, p.button("Confirm")))
        assert "Filled" in answer.text
    assert await position(sim_control, keys.api_key, "BTC_USDC_PERP") == Decimal("0.01")
    assert await position(sim_control, dave_keys.api_key, "BTC_USDC_PERP") == Decimal("0.02")
    alice = await tg.ask(ALICE, "/positions", contains="BTC")
    dave = await tg.ask(DAVE, "/positions", contains="BTC")
    assert "0.01" in alice.text and "0.02" not in alice.text
    assert "0.02" in dave.text and "0.01" not in dave.text

    con = sqlite3.connect(tmp_path / "bot.db")
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert dave_keys.api_secret not in dump and dave_keys.api_key not in dump
    bye = await tg.ask(DAVE, "/disconnect backpack", contains="wiped")
    assert "back on paper" in bye.text
    desk = await tg.ask(DAVE, "/desk", contains="Backpack keys")
    assert "Trading: <b>paper</b>" in desk.text


async def test_revoked_keys_mark_the_desk_and_tell_its_owner_once(
    desk_bot: BotRunner, tg: FakeTelegram, tmp_path: Path, sim_control: Control, keys: KeyPair
) -> None:
    bot = desk_bot
    dave_keys = new_keypair()
    await tg.ask(DAVE, "/start", contains="is open, on paper")
    await connect(bot.app.bot_data.dashboard.url, DAVE, dave_keys)
    await sim_control.post("revoke", {"apiKey": dave_keys.api_key})
    for _ in range(2):  # refused twice: the owner hears it once
        refused = await tg.ask(DAVE, "/balance", contains="refused")
        assert "/connect new keys" in refused.text
    told = await tg.next_message(DAVE, "refused the keys of", timeout=10)
    assert "other desks are not affected" in told.text
    desk = await tg.ask(DAVE, "/desk", contains="Backpack keys")
    assert "connect them again" in desk.text
    alice = await tg.ask(ALICE, "/balance", contains="USDC")  # the operator trades on
    assert "refused" not in alice.text
    assert await tell_refused(bot.app.bot_data.factory) == 0  # told once, not again
    assert sum("refused the keys of" in m.text for m in tg.to(DAVE)) == 1


async def test_a_desk_trades_hyperliquid_on_the_wallet_it_connected(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    """The operator's hedge venue holds the operator's wallet: another desk compares with it and
    never trades it, until it connects a wallet of its own, which it then trades."""
    op_wallet, op_agent, wallet, agent = (Account.create() for _ in range(4))
    async with HyperliquidSimulator(seed=4, random_walk=False) as hl:
        hl.deposit(op_wallet.address, 1000)
        hl.approve_agent(op_wallet.address, op_agent.address, "operator")
        hl.deposit(wallet.address, 777)
        hl.approve_agent(wallet.address, agent.address, "dave")
        op_key = "0x" + bytes(op_agent.key).hex()
        creds = {"walletAddress": op_wallet.address, "privateKey": op_key, **UNTHROTTLED}
        settings = desk_settings(
            tg,
            tmp_path,
            quiet_sim,
            keys,
            hedge_exchanges="hyperliquid",
            hedge_api_url=hl.rest_url,
            hedge_credentials=json.dumps({"hyperliquid": creds}),
        )
        bot = BotRunner(settings)
        await bot.start()
        try:
            await tg.ask(DAVE, "/start", contains="is open, on paper")
            factory = bot.app.bot_data.factory
            desk = factory.shared.desks.active(DAVE).desk.id
            before = await factory.get(desk)
            assert before.orders.venues == {} and before.strategy.cross is None  # compare only
            fields = {"walletAddress": wallet.address, "privateKey": "0x" + bytes(agent.key).hex()}
            async with httpx.AsyncClient(base_url=bot.app.bot_data.dashboard.url) as http:
                r = await http.post(
                    "/api/connect",
                    json={"initData": init_data(DAVE), "venue": "hyperliquid", "fields": fields},
                )
            assert r.status_code == 200, r.text
            dave = await factory.get(desk)  # rebuilt with the wallet it connected
            venue = dave.orders.venues["hyperliquid"]
            assert (await venue.balances())["USDC"] == 777  # DAVE's wallet, not the operator's
            operator = await factory.get("operator")
            assert (await operator.orders.venues["hyperliquid"].balances())["USDC"] == 1000
        finally:
            await bot.stop()
