"""The local chat survives a restart: history, keyboards, edits, files, pending updates and ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.localchat.messages import BotApiError
from bot.localchat.server import LocalChatServer
from bot.localchat.state import ChatState
from bot.localchat.store import ChatStore, Upload
from bot.localchat.web import ChatPage
from tests.localchat.test_botapi import KEYBOARD, PNG, TOKEN

USER = 4242
BOT = (7000001, "Backpack bot", "backpack_local_bot")


def open_store(path: Path, keep: int = 20_000) -> ChatStore:
    return ChatStore(*BOT, path, keep_messages=keep)


async def test_a_reopened_store_has_the_same_chat_and_continues_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "localchat.db"
    store = open_store(path)
    asked = store.user_message(USER, "/buy BTC 0.01")
    preview = await store.api_sendMessage(
        {
            "chat_id": USER,
            "text": "<b>Buy</b> 0.01 BTC",
            "parse_mode": "HTML",
            "reply_markup": KEYBOARD,
        }
    )
    chart = await store.api_sendPhoto(
        {"chat_id": USER, "photo": Upload(PNG, "chart.png", "image/png"), "caption": "BTC"}
    )
    gone = await store.api_sendMessage({"chat_id": USER, "text": "deleted soon"})
    await store.api_deleteMessage({"chat_id": USER, "message_id": gone["message_id"]})
    query = store.tap(USER, USER, preview["message_id"], "c:1")
    edited = await store.api_editMessageText(
        {"chat_id": USER, "message_id": preview["message_id"], "text": "✅ Bought"}
    )
    await store.api_setMyCommands({"commands": [{"command": "price", "description": "Prices"}]})
    store.user_message(USER, "in a group", chat_id=-100)
    wires = {m.message_id: m.wire() for m in store.messages.values()}
    pending = [u["update_id"] for u in store._updates]
    store.close()

    again = open_store(path)
    assert {m.message_id: m.wire() for m in again.messages.values()} == wires
    assert gone["message_id"] not in again.messages
    assert again.messages[preview["message_id"]].wire()["text"] == "✅ Bought"
    assert "reply_markup" not in edited  # the edit removed the keyboard, and that was kept
    photo = again.messages[chart["message_id"]].photo
    assert photo is not None and photo.content() == PNG and photo.data == b""  # read on demand
    assert (await again.api_getFile({"file_id": photo.file_id}))["file_size"] == len(PNG)
    assert [u["update_id"] for u in await again.api_getUpdates({"offset": 0})] == pending
    assert await again.api_getMyCommands({}) == [{"command": "price", "description": "Prices"}]
    assert again.chat(-100)["type"] == "group"
    newer = again.user_message(USER, "/balance")
    sent = await again.api_sendMessage({"chat_id": USER, "text": "Balance"})
    assert newer.message_id > max(wires) and sent["message_id"] == newer.message_id + 1
    assert int(again.tap(USER, USER, sent["message_id"], "x")) > int(query)
    last = await again.api_getUpdates({"offset": 0})
    assert last[-1]["update_id"] > max(pending)
    # the bot confirms everything: nothing is delivered twice after the next restart
    await again.api_getUpdates({"offset": last[-1]["update_id"] + 1})
    again.close()
    third = open_store(path)
    assert await third.api_getUpdates({"offset": 0}) == []
    assert asked.message_id in third.messages
    third.close()


async def test_an_edit_of_a_message_it_never_sent_is_a_clean_not_found(tmp_path: Path) -> None:
    store = open_store(tmp_path / "localchat.db")
    sent = await store.api_sendMessage({"chat_id": USER, "text": "mine"})
    for params in (
        {"chat_id": USER, "message_id": sent["message_id"] + 50, "text": "x"},  # unknown id
        {"chat_id": USER + 1, "message_id": sent["message_id"], "text": "x"},  # another chat
    ):
        with pytest.raises(BotApiError) as refused:
            await store.api_editMessageText(params)
        assert refused.value.description == "Bad Request: message to edit not found"
    store.close()


async def test_the_history_is_capped_on_disk_and_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "localchat.db"
    store = open_store(path, keep=10)
    for i in range(40):
        await store.api_sendPhoto(
            {"chat_id": USER, "photo": Upload(PNG, f"{i}.png", "image/png"), "caption": str(i)}
        )
    assert 10 <= len(store.messages) <= 11 and len(store.files) == len(store.messages)
    kept = sorted(store.messages)
    store.close()
    again = open_store(path, keep=10)
    assert sorted(again.messages) == kept and len(again.files) == len(kept)
    assert (await again.api_sendMessage({"chat_id": USER, "text": "next"}))["message_id"] == (
        kept[-1] + 1
    )
    again.close()


def test_without_a_path_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = ChatStore(*BOT)
    store.user_message(USER, "hello")
    store.close()
    assert not any(tmp_path.iterdir())


async def test_the_page_shows_the_old_history_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "localchat.db"
    store = open_store(path)
    store.user_message(USER, "/start")
    await store.api_sendMessage({"chat_id": USER, "text": "Welcome", "reply_markup": KEYBOARD})
    store.close()
    page = ChatPage(open_store(path), USER, None)  # type: ignore[arg-type]
    shown = [m.get("text") for m in map(page.page_message, page.store.history(USER))]
    assert shown == ["/start", "Welcome"]
    page.store.close()


# ---------------------------------------------------------------------- the real process


def start(cwd: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    env.update(
        EXCHANGE="sim", LOCAL_CHAT_PORT="0", WEBAPP_PORT="0", TELEGRAM_BOT_TOKEN="", DATA_DIR="data"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("local chat: http://"), (line, proc.poll())
    return proc, line.split(": ", 1)[1].strip()


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    return err


def page(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def wait_for_bot(url: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Poll the page's state until ``predicate(bot messages)`` holds (deadline ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        messages: list[dict[str, Any]] = page(url, "api/state")["messages"]
        bot = [m for m in messages if not m["outgoing"]]
        if predicate(bot):
            return messages
        assert time.monotonic() < deadline, [m.get("text", "")[:80] for m in messages[-6:]]
        time.sleep(0.1)


def kill(proc: subprocess.Popen[str]) -> str:
    proc.kill()  # SIGKILL: no shutdown code runs
    _, err = proc.communicate(timeout=30)
    return err


@pytest.mark.parametrize("halt", [stop, kill], ids=["sigint", "sigkill"])
def test_send_tap_sigint_start_again_history_and_ids_continue(
    tmp_path: Path, halt: Callable[[subprocess.Popen[str]], str]
) -> None:
    """Before: history gone after a restart, ids from 1000 again, recovery editing ids that
    belonged to other messages. Now the page shows the same chat and ids continue — after
    SIGINT and after SIGKILL alike, with the fill told once and the position still there."""
    proc, url = start(tmp_path)
    try:
        page(url, "api/send", {"text": "/buy BTC 0.001"})
        preview = wait_for_bot(url, lambda bot: any(m.get("reply_markup") for m in bot))
        offer = next(m for m in preview if m.get("reply_markup"))
        confirm = next(
            b["callback_data"]
            for row in offer["reply_markup"]["inline_keyboard"]
            for b in row
            if "Confirm" in b["text"]
        )
        page(url, "api/tap", {"message_id": offer["message_id"], "data": confirm})
        before = wait_for_bot(
            url,
            lambda bot: any(
                m["message_id"] == offer["message_id"] and "filled" in m.get("text", "")
                for m in bot
            ),
        )
    finally:
        halt(proc)
    proc, url = start(tmp_path)
    try:
        after = page(url, "api/state")["messages"]
        assert [(m["message_id"], m.get("text")) for m in after[: len(before)]] == [
            (m["message_id"], m.get("text")) for m in before
        ]
        sent = page(url, "api/send", {"text": "/balance"})["message"]
        assert sent["message_id"] > max(m["message_id"] for m in before)
        reply = wait_for_bot(
            url, lambda bot: any(m["message_id"] > sent["message_id"] for m in bot)
        )
        assert reply[-1]["message_id"] > sent["message_id"]
        page(url, "api/send", {"text": "/positions"})
        shown = wait_for_bot(url, lambda bot: "BTC_USDC_PERP" in bot[-1].get("text", ""))
        fills = [m for m in shown if "filled" in m.get("text", "") and not m["outgoing"]]
        assert len(fills) == 1  # the fill is told once, not again after the restart
    finally:
        err = stop(proc)
    assert "not found" not in err  # recovery edited only messages that exist


async def test_an_old_chart_is_served_from_disk_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "localchat.db"
    async with LocalChatServer(TOKEN, state_path=path) as server:
        sent = await server.store.api_sendPhoto(
            {"chat_id": USER, "photo": Upload(PNG, "chart.png", "image/png")}
        )
    file_id = sent["photo"][0]["file_id"]
    async with (
        LocalChatServer(TOKEN, state_path=path) as server,
        aiohttp.ClientSession() as http,
    ):
        info = await server.store.api_getFile({"file_id": file_id})
        async with http.get(f"{server.url}/file/bot{TOKEN}/{info['file_path']}") as reply:
            assert reply.status == 200 and await reply.read() == PNG
        async with http.get(f"{server.url}/api/files/{file_id}") as reply:
            assert reply.status == 200 and await reply.read() == PNG


def test_a_chat_started_afresh_never_reuses_an_update_id(tmp_path: Path) -> None:
    """The bot drops an ``update_id`` it has seen as a redelivery, so a local chat whose file
    was deleted (the bot's database kept) must not start its ids from 1 again: they start at
    the clock."""
    before = int(time.time() * 1000)
    state = ChatState(1, "bot", "bot", tmp_path / "fresh.db")
    state._push({"message": {}})
    assert state._updates[-1]["update_id"] >= before
