"""The embedded Bot API over HTTP: Telegram's response shapes, errors and limits."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.localchat.server import BOT_ID, LocalChatServer

TOKEN = "7000001:local-test-token"
USER = 4242
KEYBOARD = {"inline_keyboard": [[{"text": "✅ Confirm", "callback_data": "c:1"}]]}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0\x08\x02\x00\x00\x00"
    + b"\x00" * 64
)


class Api:
    def __init__(self, server: LocalChatServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(self, method: str, token: str = TOKEN, **params: Any) -> tuple[int, Any]:
        url = f"{self.server.url}/bot{token}/{method}"
        async with self.session.post(url, json=params) as r:
            return r.status, await r.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.call(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]

    async def error(self, method: str, **params: Any) -> str:
        status, body = await self.call(method, **params)
        assert body["ok"] is False and body["error_code"] == status, body
        return f"{status} {body['description']}"


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with (
        LocalChatServer(TOKEN, max_poll_seconds=2.0) as server,
        aiohttp.ClientSession() as session,
    ):
        yield Api(server, session)


async def test_get_me_token_and_unknown_methods(api: Api) -> None:
    me = await api.ok("getMe")
    assert me["id"] == BOT_ID and me["is_bot"] is True and me["username"]
    assert await api.ok("getme") == me  # method names are case-insensitive
    status, body = await api.call("getMe", token="1:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert await api.error("sendTelepathy") == "404 Not Found"
    assert await api.ok("deleteWebhook", drop_pending_updates=False) is True


async def test_send_message_shape_parses_html_and_keyboard(api: Api) -> None:
    sent = await api.ok(
        "sendMessage",
        chat_id=USER,
        text="<b>BTC</b> &lt;3 /help",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    assert sent["text"] == "BTC <3 /help"
    assert sent["entities"] == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "bot_command", "offset": 7, "length": 5},
    ]
    assert sent["from"]["is_bot"] is True and sent["from"]["id"] == BOT_ID
    assert sent["chat"] == {"id": USER, "first_name": f"user{USER}", "type": "private"}
    assert sent["reply_markup"] == KEYBOARD
    assert isinstance(sent["message_id"], int) and isinstance(sent["date"], int)
    assert "edit_date" not in sent


async def test_form_encoded_like_python_telegram_bot(api: Api) -> None:
    url = f"{api.server.url}/bot{TOKEN}/sendMessage"
    form = {"chat_id": str(USER), "text": "hi", "reply_markup": json.dumps(KEYBOARD)}
    async with api.session.post(url, data=form) as r:
        body = await r.json()
    assert body["ok"] and body["result"]["reply_markup"] == KEYBOARD


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"text": ""}, "400 Bad Request: message text is empty"),
        ({"text": "<b></b>", "parse_mode": "HTML"}, "400 Bad Request: message text is empty"),
        ({"text": "x" * 4097}, "400 Bad Request: message is too long"),
        (
            {"text": "<b>x", "parse_mode": "HTML"},
            "400 Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            {"text": "a<br>b", "parse_mode": "HTML"},
            '400 Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 1',
        ),
        (
            {
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "é" * 33}]]},
            },
            "400 Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "b"}]]}},
            "400 Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        ({"text": "x", "chat_id": -5}, "400 Bad Request: chat not found"),
    ],
)
async def test_send_message_refusals(api: Api, params: dict[str, Any], error: str) -> None:
    assert await api.error("sendMessage", **{"chat_id": USER, **params}) == error


async def test_limits_are_inclusive(api: Api) -> None:
    await api.ok("sendMessage", chat_id=USER, text="é" * 4096)
    markup = {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 64}]]}
    await api.ok("sendMessage", chat_id=USER, text="x", reply_markup=markup)


async def test_edits_not_modified_and_missing(api: Api) -> None:
    sent = await api.ok("sendMessage", chat_id=USER, text="<b>a</b>", parse_mode="HTML")
    mid = sent["message_id"]
    same = {"chat_id": USER, "message_id": mid, "text": "<b>a</b>", "parse_mode": "HTML"}
    error = await api.error("editMessageText", **same)
    assert error.startswith("400 Bad Request: message is not modified")
    edited = await api.ok("editMessageText", **{**same, "text": "<i>a</i>"})
    assert edited["entities"] == [{"type": "italic", "offset": 0, "length": 1}]
    assert "edit_date" in edited
    with_kb = await api.ok(
        "editMessageReplyMarkup", chat_id=USER, message_id=mid, reply_markup=KEYBOARD
    )
    assert with_kb["reply_markup"] == KEYBOARD
    await api.ok("editMessageReplyMarkup", chat_id=USER, message_id=mid)
    error = await api.error("editMessageReplyMarkup", chat_id=USER, message_id=mid)
    assert error.startswith("400 Bad Request: message is not modified")
    missing = {"chat_id": USER, "message_id": 999999, "text": "x"}
    assert await api.error("editMessageText", **missing) == (
        "400 Bad Request: message to edit not found"
    )
    assert await api.error("editMessageCaption", chat_id=USER, message_id=mid, caption="c") == (
        "400 Bad Request: there is no caption in the message to edit"
    )
    assert await api.ok("deleteMessage", chat_id=USER, message_id=mid) is True
    assert await api.error("deleteMessage", chat_id=USER, message_id=mid) == (
        "400 Bad Request: message to delete not found"
    )


async def _upload(api: Api, method: str, field: str, data: bytes, caption: str) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(USER))
    form.add_field("caption", caption)
    form.add_field("parse_mode", "HTML")
    form.add_field(field, io.BytesIO(data), filename="chart.png", content_type="image/png")
    async with api.session.post(f"{api.server.url}/bot{TOKEN}/{method}", data=form) as r:
        return r.status, await r.json()


async def test_photos_documents_and_captions(api: Api) -> None:
    status, body = await _upload(api, "sendPhoto", "photo", PNG, "<b>BTC</b> 24h")
    assert status == 200, body
    photo = body["result"]
    assert photo["caption"] == "BTC 24h" and photo["caption_entities"][0]["type"] == "bold"
    assert photo["photo"][0]["width"] == 640 and photo["photo"][0]["height"] == 480
    assert "text" not in photo
    file_id = photo["photo"][0]["file_id"]
    info = await api.ok("getFile", file_id=file_id)
    async with api.session.get(f"{api.server.url}/file/bot{TOKEN}/{info['file_path']}") as r:
        assert await r.read() == PNG
    again = await api.ok("sendPhoto", chat_id=USER, photo=file_id)  # resend by file_id
    assert again["photo"][0]["file_id"] == file_id

    status, body = await _upload(api, "sendPhoto", "photo", PNG, "x" * 1025)
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")
    status, body = await _upload(api, "sendPhoto", "photo", b"not an image", "")
    assert (status, body["description"]) == (400, "Bad Request: IMAGE_PROCESS_FAILED")
    status, body = await _upload(api, "sendDocument", "document", b"a,b\n1,2\n", "trades")
    assert status == 200 and body["result"]["document"]["file_name"] == "chart.png"

    mid = photo["message_id"]
    edited = await api.ok("editMessageCaption", chat_id=USER, message_id=mid, caption="new")
    assert edited["caption"] == "new"
    assert await api.error("editMessageText", chat_id=USER, message_id=mid, text="t") == (
        "400 Bad Request: there is no text in the message to edit"
    )


async def test_long_poll_offsets_and_conflict(api: Api) -> None:
    assert await api.ok("getUpdates", timeout=0) == []
    poll = asyncio.create_task(api.ok("getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    message = api.server.store.user_message(USER, "/price BTC")
    updates = await asyncio.wait_for(poll, 2)  # answered at once, not after the timeout
    assert [u["message"]["message_id"] for u in updates] == [message.message_id]
    first = updates[0]
    assert first["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert first["message"]["from"] == {"id": USER, "is_bot": False, "first_name": f"user{USER}"}
    again = await api.ok("getUpdates", timeout=0)
    assert again == updates  # not confirmed yet
    assert await api.ok("getUpdates", offset=first["update_id"] + 1, timeout=0) == []

    older = asyncio.create_task(api.call("getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    newer = asyncio.create_task(api.ok("getUpdates", timeout=1))
    status, body = await asyncio.wait_for(older, 2)
    assert status == 409 and body["description"].startswith(
        "Conflict: terminated by other getUpdates"
    )
    assert await newer == []


async def test_callback_queries_are_answered_once(api: Api) -> None:
    sent = await api.ok("sendMessage", chat_id=USER, text="preview", reply_markup=KEYBOARD)
    query_id = api.server.store.tap(USER, USER, sent["message_id"], "c:1")
    updates = await api.ok("getUpdates", timeout=0)
    query = updates[-1]["callback_query"]
    assert query["id"] == query_id and query["data"] == "c:1"
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["message"]["reply_markup"] == KEYBOARD
    assert await api.error("answerCallbackQuery", callback_query_id=query_id, text="x" * 201) == (
        "400 Bad Request: MESSAGE_TOO_LONG"
    )
    assert await api.ok("answerCallbackQuery", callback_query_id=query_id, text="Filled ✅") is True
    error = await api.error("answerCallbackQuery", callback_query_id=query_id)
    assert error.startswith("400 Bad Request: query is too old")
    assert (await api.error("answerCallbackQuery", callback_query_id="nope")).startswith(
        "400 Bad Request: query is too old"
    )


async def test_commands_and_chat_actions(api: Api) -> None:
    commands = [{"command": "price", "description": "prices"}]
    assert await api.ok("setMyCommands", commands=commands) is True
    assert await api.ok("getMyCommands") == commands
    bad = [{"command": "Bad-Name", "description": "x"}]
    assert await api.error("setMyCommands", commands=bad) == "400 Bad Request: BOT_COMMAND_INVALID"
    assert await api.ok("sendChatAction", chat_id=USER, action="typing") is True
    assert await api.error("sendChatAction", chat_id=USER, action="dancing") == (
        "400 Bad Request: wrong parameter action in request"
    )
    assert await api.ok("deleteMyCommands") is True
    assert await api.ok("getMyCommands") == []


async def test_the_server_keeps_no_record_of_the_calls_it_served(api: Api) -> None:
    """Every call used to be kept in a list that never shrank (issue 23): 300 calls carrying
    4 kB each must not leave ~1.2 MB behind."""
    padding = "x" * 4000
    for _ in range(20):  # warm-up: connection pool, caches
        await api.ok("getMe", padding=padding)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            await api.ok("getMe", padding=padding)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 300 * 4000 // 4, f"{grown} bytes kept after 300 calls"
