"""The chat page's password, tried as a guesser would: in parallel, from several clients, with
the right password arriving late; sessions that end; live trading never open without a secret;
bodies refused past 1 MB."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.localchat.auth import Attempts, Sessions
from bot.localchat.server import LOCAL_USER_ID, LocalChatServer
from bot.logs import configure_logging
from bot.settings import ConfigError
from bot.sim import Simulator
from tests.keys import KeyPair
from tests.localchat.conftest import local_settings, running

TOKEN = "7000001:auth-test-token"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def server() -> AsyncIterator[LocalChatServer]:
    async with LocalChatServer(TOKEN, password=PASSWORD) as s:
        yield s


def _client(source: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A browser on loopback address ``source`` (each is its own client to the limiter)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _login(http: aiohttp.ClientSession, url: str, password: str) -> int:
    async with http.post(f"{url}/api/login", json={"password": password}) as r:
        return r.status


async def test_twenty_parallel_wrong_guesses_are_limited(server: LocalChatServer) -> None:
    async with _client() as http:
        guesses = [f"wrong guess number {i:02d}" for i in range(20)]
        statuses = await asyncio.gather(*(_login(http, server.url, g) for g in guesses))
        assert sorted(statuses) == [401] * 5 + [429] * 15  # 5 a minute, however they come
        # The right password, late: refused unread, and it opens nothing.
        assert await _login(http, server.url, PASSWORD) == 429
        async with http.get(f"{server.url}/api/state") as r:
            assert r.status == 401
        async with http.post(f"{server.url}/api/login", json={"password": PASSWORD}) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) > 0


async def test_many_clients_share_one_overall_limit(server: LocalChatServer) -> None:
    statuses: list[int] = []
    for n in range(2, 6):  # four clients, five guesses each: the overall 20 a minute
        async with _client(f"127.0.0.{n}") as http:
            statuses += await asyncio.gather(
                *(_login(http, server.url, f"guess {n}.{i} is wrong") for i in range(5))
            )
    assert statuses == [401] * 20
    async with _client("127.0.0.9") as http:  # a fifth client, the right password: too late
        assert await _login(http, server.url, PASSWORD) == 429


async def test_the_right_password_opens_a_session_that_a_restart_ends() -> None:
    async with _client() as http:
        async with LocalChatServer(TOKEN, password=PASSWORD) as first:
            async with http.post(f"{first.url}/api/login", json={"password": PASSWORD}) as r:
                assert r.status == 200
                cookie = r.cookies["localchat_session"]
                assert cookie["max-age"] == str(12 * 3600) and cookie["httponly"]
            async with http.get(f"{first.url}/api/state") as r:
                assert r.status == 200
            port = int(first.url.rsplit(":", 1)[1])
        async with (
            LocalChatServer(TOKEN, password=PASSWORD, port=port) as second,
            http.get(f"{second.url}/api/state") as r,
        ):
            assert r.status == 401  # the old cookie means nothing to a new process


def test_attempts_and_sessions_expire() -> None:
    now = [1000.0]
    attempts = Attempts(per_client=2, overall=3, window=60, now=lambda: now[0])
    assert [attempts.admit("a") for _ in range(3)] == [True, True, False]
    assert attempts.admit("b") and not attempts.admit("c")  # 3 in all
    now[0] += 61
    assert attempts.admit("a") and attempts.admit("c")
    sessions = Sessions(ttl=3600, limit=2, now=lambda: now[0])
    one, two = sessions.new(), sessions.new()
    assert sessions.valid(one) and sessions.valid(two) and not sessions.valid("forged")
    three = sessions.new()  # over the limit: the oldest goes
    assert not sessions.valid(one) and sessions.valid(three)
    now[0] += 3601
    assert not sessions.valid(two) and not sessions.valid(three)


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="12 characters"):
        LocalChatServer(TOKEN, password="hunter2")
    with pytest.raises(ConfigError, match="at least 12 characters"):
        local_settings(tmp_path, local_chat_password="hunter2").check()


async def test_live_mode_needs_the_key_in_the_printed_url(tmp_path: Path, keys: KeyPair) -> None:
    buffer = io.StringIO()
    handler = configure_logging("DEBUG", buffer)
    try:
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
            async with running(settings) as url:
                page, _, key = url.partition("?key=")
                assert page.endswith("/") and len(key) >= 32
                async with _client() as stranger:  # another local user or process
                    async with stranger.get(f"{page}api/state") as r:
                        assert r.status == 401
                    async with stranger.post(f"{page}api/send", json={"text": "/buy BTC 1"}) as r:
                        assert r.status == 401
                    async with stranger.get(f"{page}?key={key[:-1]}x") as r:
                        assert r.status == 401
                async with _client() as owner:
                    async with owner.get(url) as r:  # signs in, then drops the key from the URL
                        assert r.status == 200 and str(r.url) == page
                    async with owner.get(f"{page}api/state") as r:
                        assert r.status == 200
                    assert await _login(owner, page.rstrip("/"), key) == 200
    finally:
        logging.getLogger().removeHandler(handler)
    text = buffer.getvalue()
    assert "DEBUG" in text
    for secret in (key, keys.api_secret):
        assert secret not in text


async def test_bodies_over_1_mb_are_refused(server: LocalChatServer) -> None:
    big = b'{"text": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    json_type = {"Content-Type": "application/json"}
    async with _client() as http:
        assert await _login(http, server.url, PASSWORD) == 200
        async with http.post(f"{server.url}/api/send", data=big, headers=json_type) as r:
            assert r.status == 413
        form = aiohttp.FormData({"chat_id": str(LOCAL_USER_ID)})
        form.add_field("document", b"x" * (2 * 1024 * 1024), filename="big.csv")
        async with http.post(f"{server.url}/bot{TOKEN}/sendDocument", data=form) as r:
            assert r.status == 200  # the bot itself, with its token, may send more
        async with http.post(
            f"{server.url}/botwrong/sendMessage", data=big, headers=json_type
        ) as r:
            assert r.status in (401, 413)
    async with (
        Simulator(seed=3, random_walk=False) as sim,
        aiohttp.ClientSession() as http,
        http.post(f"{sim.rest_url}/api/v1/order", data=big, headers=json_type) as r,
    ):
        assert r.status == 413
