"""The chat page's API: history, sending, buttons, pushed updates, and who may use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.localchat.server import LOCAL_USER_ID, LocalChatServer
from bot.localchat.web import Banner
from bot.sim import Simulator
from tests.keys import KeyPair
from tests.localchat.conftest import local_settings, running

TOKEN = "7000001:page-test-token"
KEYBOARD = {"inline_keyboard": [[{"text": "✅ Confirm", "callback_data": "c:1"}]]}


@pytest.fixture
async def server() -> AsyncIterator[LocalChatServer]:
    async with LocalChatServer(TOKEN, banner=Banner("paper", "built-in simulator")) as s:
        yield s


async def bot_says(server: LocalChatServer, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await server.store.api_sendMessage(
        {"chat_id": LOCAL_USER_ID, "parse_mode": "HTML", **params}
    )
    return result


async def test_send_history_tap_and_push(server: LocalChatServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws") as ws:
        async with http.post(f"{server.url}/api/send", json={"text": "/price BTC"}) as r:
            mine = (await r.json())["message"]
        assert mine["outgoing"] is True and mine["entities"][0]["type"] == "bot_command"
        assert (await ws.receive_json(timeout=2))["message"]["text"] == "/price BTC"
        preview = await bot_says(server, text="<b>preview</b>", reply_markup=KEYBOARD)
        frame = await ws.receive_json(timeout=2)
        assert frame["type"] == "message" and frame["message"]["text"] == "preview"
        tap = {"message_id": preview["message_id"], "data": "c:1"}
        async with http.post(f"{server.url}/api/tap", json=tap) as r:
            query_id = (await r.json())["query_id"]
        await server.store.api_answerCallbackQuery(
            {"callback_query_id": query_id, "text": "Filled ✅"}
        )
        assert await ws.receive_json(timeout=2) == {
            "type": "answer",
            "callback_query_id": query_id,
            "text": "Filled ✅",
            "show_alert": False,
            "user_id": LOCAL_USER_ID,
        }
        await server.store.api_editMessageText(
            {"chat_id": LOCAL_USER_ID, "message_id": preview["message_id"], "text": "final"}
        )
        edit = await ws.receive_json(timeout=2)
        assert edit["type"] == "edit" and "reply_markup" not in edit["message"]
        async with http.post(f"{server.url}/api/tap", json=tap) as r:
            assert r.status == 409  # the button is gone
        async with http.get(f"{server.url}/api/state") as r:
            state = await r.json()
        assert [m["text"] for m in state["messages"]] == ["/price BTC", "final"]
        assert state["banner"]["market"] == "built-in simulator"
        server.store.user_message(555, "someone else's chat")
        await bot_says(server, text="still mine")
        assert (await ws.receive_json(timeout=2))["message"]["text"] == "still mine"


async def test_the_page_and_its_assets_come_from_the_bot(server: LocalChatServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/") as r:
            page = await r.text()
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "http" not in page.replace('"http-equiv"', "")  # nothing from another host
        for asset in ("chat.js", "chat.css", "icon.svg"):
            async with http.get(f"{server.url}/static/{asset}") as r:
                assert r.status == 200
        async with http.get(f"{server.url}/static/../server.py") as r:
            assert r.status == 404


async def test_other_sites_cannot_drive_it(server: LocalChatServer) -> None:
    async with aiohttp.ClientSession() as http:
        send = f"{server.url}/api/send"
        async with http.post(send, data={"text": "/buy BTC 1"}) as r:
            assert r.status == 415  # a cross-site form cannot send JSON
        headers = {"Origin": "http://evil.example"}
        async with http.post(send, json={"text": "/buy BTC 1"}, headers=headers) as r:
            assert r.status == 403
        rebound = {"Host": f"evil.example:{server.url.rsplit(':', 1)[1]}"}
        async with http.get(f"{server.url}/api/state", headers=rebound) as r:
            assert r.status == 403  # DNS rebinding
    assert server.store.messages == {}


async def test_a_password_guards_everything_but_the_login() -> None:
    async with (
        LocalChatServer(TOKEN, host="127.0.0.1", password="a long s3cret phrase") as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,  # an IP host
    ):
        async with http.get(f"{server.url}/api/state") as r:
            assert r.status == 401
        async with http.post(f"{server.url}/api/send", json={"text": "hi"}) as r:
            assert r.status == 401
        async with http.post(f"{server.url}/api/login", json={"password": "guess"}) as r:
            assert r.status == 401
        async with http.post(
            f"{server.url}/api/login", json={"password": "a long s3cret phrase"}
        ) as r:
            assert r.status == 200
        async with http.get(f"{server.url}/api/state") as r:
            assert r.status == 200


async def test_an_unreachable_exchange_falls_back_to_the_simulator(tmp_path: Path) -> None:
    settings = local_settings(tmp_path, exchange="backpack", backpack_api_url="http://127.0.0.1:9")
    async with (
        running(settings) as url,
        aiohttp.ClientSession() as http,
        http.get(f"{url}api/state") as r,
    ):
        banner = (await r.json())["banner"]
    assert banner == {
        "mode": "paper",
        "market": "built-in simulator",
        "detail": "Backpack Exchange is not reachable",
    }


async def test_live_only_when_asked_and_the_banner_says_so(tmp_path: Path, keys: KeyPair) -> None:
    async with Simulator(seed=2, random_walk=False) as sim:
        settings = local_settings(
            tmp_path,
            exchange="backpack",
            trading_mode="live",
            backpack_api_key=keys.api_key,
            backpack_api_secret=keys.api_secret,
            backpack_api_url=sim.rest_url,
            backpack_ws_url=sim.ws_url,
        )
        async with (
            running(settings) as url,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            async with http.get(url) as page:  # the printed URL's key signs the page in
                assert page.status == 200
            async with http.get(f"{url.split('?')[0]}api/state") as r:
                banner = (await r.json())["banner"]
    assert banner["mode"] == "live" and banner["market"] == "Backpack Exchange"
