"""The dashboard's API over real HTTP: Telegram's initData on every call, roles, the same
numbers as the chat, and a Close that needs its ✅ and sends exactly one order."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx

from bot.render.trading import CONFIRM_PREFIX
from bot.webapp.server import CSP
from tests.bot.conftest import BotRunner
from tests.bot.test_trading import fills, position
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair
from tests.webapp.conftest import OWNER, PUBLIC_URL, STRANGER, VIEWER, init_data, tma

API = ["/api/me", "/api/positions", "/api/pnl", "/api/funding", "/api/trades"]


async def test_dashboard_button_and_menu_button_open_webapp_url(
    dash_bot: BotRunner, tg: FakeTelegram
) -> None:
    m = await tg.ask(OWNER, "/dashboard", "Dashboard")
    assert m.reply_markup is not None
    [[button]] = m.reply_markup["inline_keyboard"]
    assert button["web_app"]["url"].startswith(PUBLIC_URL)
    await tg.wait_for(lambda: any(c[0] == "setChatMenuButton" for c in tg.calls))
    menu = next(p for c, p in tg.calls if c == "setChatMenuButton")
    assert PUBLIC_URL in str(menu["menu_button"])


async def test_dashboard_off_without_webapp_url(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    m = await tg.ask(1001, "/dashboard", "WEBAPP_URL")
    assert m.reply_markup is None
    assert paper_bot.app.bot_data.dashboard is None


async def test_missing_forged_or_stale_initdata_gets_401_and_no_data(
    dash: httpx.AsyncClient,
) -> None:
    forged = init_data(OWNER).replace("user1001", "user1002")
    headers = [
        {},
        {"Authorization": "Bearer x"},
        {"Authorization": "tma"},
        {"Authorization": f"tma {forged}"},
        tma(OWNER, token="123456789:another-bots-token"),
        tma(OWNER, age=3601),
    ]
    for path in API:
        for h in headers:
            r = await dash.get(path, headers=h)
            assert r.status_code == 401, (path, h)
            assert set(r.json()) == {"error"}
    r = await dash.post("/api/close", json={"symbol": "BTC_USDC_PERP"}, headers={})
    assert r.status_code == 401


async def test_strangers_get_nothing_and_viewers_only_read(
    dash: httpx.AsyncClient, sim_control: Control, keys: KeyPair
) -> None:
    for path in API:
        assert (await dash.get(path, headers=tma(STRANGER))).status_code == 403
    me = (await dash.get("/api/me", headers=tma(VIEWER))).json()
    assert (me["role"], me["may_trade"], me["may_configure"]) == ("viewer", False, False)
    assert (await dash.get("/api/positions", headers=tma(VIEWER))).status_code == 200
    r = await dash.post("/api/close", json={"symbol": "BTC_USDC_PERP"}, headers=tma(VIEWER))
    assert r.status_code == 403 and "viewer" in r.json()["error"]
    assert await fills(sim_control, keys) == []


async def test_page_and_assets_carry_a_strict_csp(dash: httpx.AsyncClient) -> None:
    page = await dash.get("/")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "'unsafe-inline'" not in CSP
    html = page.text
    assert "<script>" not in html and "style=" not in html
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not src.startswith(("http:", "https:", "//")), src  # nothing from outside
        assert (await dash.get("/" + src)).status_code == 200
    assert (await dash.get("/static/../server.py")).status_code == 404
    big = await dash.post("/api/close", content=b"x" * (1024 * 1024 + 1), headers=tma(OWNER))
    assert big.status_code == 413


async def test_same_numbers_as_the_chat_and_close_needs_its_confirm(
    dash: httpx.AsyncClient, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    p = await tg.ask(OWNER, "/buy BTC 0.01")
    await tg.tap(OWNER, p, p.button("Confirm"))
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)

    positions = (await dash.get("/api/positions", headers=tma(OWNER))).json()["positions"]
    [btc] = positions
    chat = (await tg.ask(OWNER, "/positions", "BTC_USDC_PERP")).text
    for key in ("size", "entry", "mark", "upnl", "funding", "notional"):
        assert btc[key] in chat, (key, btc[key], chat)
    pnl = (await dash.get("/api/pnl?period=all", headers=tma(OWNER))).json()
    chat_pnl = (await tg.ask(OWNER, "/pnl", "PnL")).text
    for key in ("realized", "unrealized", "funding", "fees", "net"):
        assert pnl["total"][key] in chat_pnl, (key, pnl["total"], chat_pnl)
    assert pnl["curve"].startswith("<svg")
    assert (await dash.get("/api/pnl?period=year", headers=tma(OWNER))).status_code == 400

    before = len(await fills(sim_control, keys))
    preview = (
        await dash.post("/api/close", json={"symbol": "BTC_USDC_PERP"}, headers=tma(OWNER))
    ).json()
    assert "BTC_USDC_PERP" in preview["text"] and preview["token"]
    assert len(await fills(sim_control, keys)) == before  # nothing sent before the ✅
    first = await dash.post("/api/confirm", json={"token": preview["token"]}, headers=tma(OWNER))
    assert first.json()["status"] == "filled", first.json()
    again = await dash.post("/api/confirm", json={"token": preview["token"]}, headers=tma(OWNER))
    assert again.json()["status"] == "used"
    assert len(await fills(sim_control, keys)) == before + 1
    assert await position(sim_control, keys, "BTC_USDC_PERP") == Decimal(0)


async def test_a_page_preview_is_the_chats_single_use_token(
    dash: httpx.AsyncClient, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    """The token the page shows is the one the chat's ✅ claims: whichever comes first sends
    the order; the other is told it was used and sends nothing."""
    p = await tg.ask(OWNER, "/buy ETH 0.5")
    await tg.tap(OWNER, p, p.button("Confirm"))
    await tg.wait_for(lambda: "filled at" in tg.find(p.message_id).text)
    before = len(await fills(sim_control, keys))
    r = await dash.post("/api/close", json={"symbol": "ETH_USDC_PERP"}, headers=tma(OWNER))
    token = r.json()["token"]
    board = await tg.ask(OWNER, "/dashboard", "Dashboard")
    qid = await tg.tap(OWNER, board, f"{CONFIRM_PREFIX}{token}")  # the chat's ✅ for it
    assert "Filled" in (await tg.answer_to(qid)).text
    late = await dash.post("/api/confirm", json={"token": token}, headers=tma(OWNER))
    assert late.json()["status"] == "used"
    assert len(await fills(sim_control, keys)) == before + 1
    assert await position(sim_control, keys, "ETH_USDC_PERP") == Decimal(0)


async def test_bad_close_requests_get_specific_answers_and_send_nothing(
    dash: httpx.AsyncClient, sim_control: Control, keys: KeyPair
) -> None:
    r = await dash.post("/api/close", json={"symbol": "ETH_USDC_PERP"}, headers=tma(OWNER))
    assert r.status_code == 400 and "position" in r.json()["error"].lower()
    bad = await dash.post("/api/close", json={"symbol": "<script>"}, headers=tma(OWNER))
    assert bad.status_code == 400
    cancel = await dash.post("/api/cancel", json={"token": "nope"}, headers=tma(OWNER))
    assert cancel.json()["status"] == "not_found"
    assert await fills(sim_control, keys) == []


async def test_a_busy_desk_is_told_in_the_chat_and_on_the_page_and_the_tap_stays_live(
    dash_bot: BotRunner,
    dash: httpx.AsyncClient,
    tg: FakeTelegram,
    sim_control: Control,
    keys: KeyPair,
) -> None:
    """Another order of the desk is on its way (its lock held): a ✅ in the chat or on the page
    says so in one sentence and sends nothing; once it is through, the same ✅ places the order."""
    orders = dash_bot.services.orders
    orders.lock_wait = 0.2
    p = await tg.ask(OWNER, "/buy BTC 0.01")
    data = p.button("Confirm")
    busy = "Another order on this desk is still being placed; try again in a moment."
    async with orders.locks.hold(orders.store.desk):
        qid = await tg.tap(OWNER, p, data)
        assert (await tg.answer_to(qid)).text == f"⏳ {busy}"
        token = data.removeprefix(CONFIRM_PREFIX)
        page = await dash.post("/api/confirm", json={"token": token}, headers=tma(OWNER))
        assert page.status_code == 409 and page.json() == {"error": busy}
        assert await fills(sim_control, keys) == []
    qid = await tg.tap(OWNER, p, data)
    assert "Filled" in (await tg.answer_to(qid)).text
    assert len(await fills(sim_control, keys)) == 1
