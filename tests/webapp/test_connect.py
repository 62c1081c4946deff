"""Connecting a desk's own keys through the Mini App's endpoints, over real HTTP, against the
real simulators (Backpack's face and Hyperliquid's): owner only, a sentence for each mistake,
nothing stored unless the venue accepted the key, and nothing of it readable in a dump."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from bot.desks.connect import Connector, VenueUrls
from bot.desks.doors import DeskDoors
from bot.keyring.desk_keys import NOT_CONFIGURED, DeskKeys
from bot.keyring.ring import Key
from bot.keyring.source import KeySource
from bot.services.access import Role
from bot.sim import Simulator
from bot.sim.hyperliquid import HyperliquidSimulator
from bot.webapp.connect import DeskDoor
from bot.webapp.server import CSP, DashboardServer
from tests.bot.conftest import TOKEN, BotRunner, live_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.webapp.conftest import OWNER, STRANGER, VIEWER, init_data

DESK = "d0123456789ab"
KEYRING = Key.generate("k1").entry()


@dataclass
class Door:
    """The desks' side as the composition root gives it: who is on which desk, as what."""

    desks: dict[int, tuple[str, Role]] = field(
        default_factory=lambda: {OWNER: (DESK, "owner"), VIEWER: (DESK, "viewer")}
    )
    changed: list[tuple[str, str]] = field(default_factory=list)

    async def desk_for(self, user_id: int) -> tuple[str, Role] | None:
        return self.desks.get(user_id)

    async def keys_changed(self, desk_id: str, venue: str) -> None:
        self.changed.append((desk_id, venue))


@dataclass
class Page:
    http: httpx.AsyncClient
    door: Door
    server: DashboardServer
    db_path: Path

    async def post(self, path: str, user: int | None = OWNER, **body: Any) -> httpx.Response:
        data = {"initData": init_data(user)} if user is not None else {}
        return await self.http.post(path, json={**data, **body})

    def dump(self) -> str:
        con = sqlite3.connect(self.db_path)
        try:
            return "\n".join(con.iterdump())
        finally:
            con.close()


@pytest.fixture
async def keyed_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    """The bot live against the quiet simulator, with SECRETS_KEYRING set."""
    runner = BotRunner(
        live_settings(tg, tmp_path, quiet_sim, keys, secrets_keyring=KEYRING, webapp_port=0)
    )
    await runner.start()
    yield runner
    await runner.stop()


async def serve(bot: BotRunner, tmp_path: Path, connector: Connector | None) -> Page:
    door = Door()
    s = bot.settings
    connector = connector or Connector(
        DeskKeys(bot.services.db, KeySource.from_settings(s)), VenueUrls.from_settings(s)
    )
    doors = DeskDoors(bot.app.bot_data.factory)
    server = DashboardServer(doors, TOKEN, door=door, connector=connector)
    await server.start()
    http = httpx.AsyncClient(base_url=server.url, timeout=30)
    return Page(http, door, server, tmp_path / "bot.db")


@pytest.fixture
async def page(keyed_bot: BotRunner, tmp_path: Path) -> AsyncIterator[Page]:
    """The webapp server with a desk door and a connector built from the settings."""
    p = await serve(keyed_bot, tmp_path, None)
    yield p
    await p.http.aclose()
    await p.server.stop()


def _door_is_a_desk_door(door: Door) -> DeskDoor:
    return door  # mypy checks that the test's door has the protocol's shape


async def test_connect_backpack_then_disconnect(
    page: Page, keyed_bot: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    form = await page.http.get("/connect", params={"venue": "backpack"})
    assert form.status_code == 200 and form.headers["Content-Security-Policy"] == CSP
    for text in (">API key</label>", ">API secret</label>", ">Connect</button>", 'type="password"'):
        assert text in form.text
    assert 'autocomplete="off"' in form.text and "<script>" not in form.text
    assert "style=" not in form.text
    r = await page.post("/api/connections")
    assert r.status_code == 200 and r.json()["venues"] == {}

    pair = new_keypair()
    fields = {"api_key": pair.api_key, "api_secret": pair.api_secret}
    r = await page.post("/api/connect", venue="backpack", fields=fields)
    assert r.status_code == 200, r.text
    hint = "…" + pair.api_key.rstrip("=")[-4:]
    assert r.json() == {"connected": "backpack", "hint": hint}
    assert page.door.changed == [(DESK, "backpack")]
    assert (await page.post("/api/connections")).json()["venues"] == {"backpack": hint}
    keys = DeskKeys(keyed_bot.services.db, KeySource(KEYRING, page.db_path))
    assert await keys.get(DESK, "backpack") == fields

    dump = page.dump()
    assert "desk_secrets" in dump and hint in dump
    assert pair.api_secret not in dump and pair.api_key not in dump
    assert pair.api_secret not in caplog.text and pair.api_key not in caplog.text

    r = await page.post("/api/disconnect", venue="backpack")
    assert r.json() == {"disconnected": "backpack", "removed": True}
    assert page.door.changed == [(DESK, "backpack"), (DESK, "backpack")]
    assert (await page.post("/api/connections")).json()["venues"] == {}
    r = await page.post("/api/disconnect", venue="backpack")
    assert r.json()["removed"] is False and len(page.door.changed) == 2


async def test_only_the_desks_owner_signed_by_telegram(page: Page) -> None:
    fields = {"api_key": (pair := new_keypair()).api_key, "api_secret": pair.api_secret}
    for path, body in (
        ("/api/connections", {}),
        ("/api/connect", {"venue": "backpack", "fields": fields}),
        ("/api/disconnect", {"venue": "backpack"}),
    ):
        r = await page.post(path, VIEWER, **body)
        assert r.status_code == 403, path
        assert r.json()["error"] == (
            "Only the desk's owner may connect or disconnect its keys; you are viewer."
        )
        r = await page.post(path, STRANGER, **body)
        assert r.status_code == 403
        assert "no desk on this bot" in r.json()["error"]
        r = await page.post(path, None, **body)
        assert r.status_code == 401 and "Not signed by Telegram" in r.json()["error"]
        forged = init_data(OWNER).replace("user1001", "user1002")
        r = await page.http.post(path, json={"initData": forged, **body})
        assert r.status_code == 401
    # The dashboard's header form of initData works too.
    r = await page.http.post(
        "/api/connections", json={}, headers={"Authorization": f"tma {init_data(OWNER)}"}
    )
    assert r.status_code == 200
    assert page.door.changed == []
    assert pair.api_key not in page.dump()


async def test_bad_input_gets_its_sentence_and_a_refused_key_is_not_stored(
    page: Page, quiet_sim: Simulator
) -> None:
    pair, other = new_keypair(), new_keypair()
    cases = [
        ({"api_key": pair.api_key}, "Paste your Backpack API secret."),
        ({"api_key": pair.api_key, "api_secret": "nope!"}, "The API secret is not base64"),
        ({"api_key": other.api_key, "api_secret": pair.api_secret}, "does not match"),
    ]
    for fields, sentence in cases:
        r = await page.post("/api/connect", venue="backpack", fields=fields)
        assert r.status_code == 400 and sentence in r.json()["error"], (fields, r.text)
    r = await page.post("/api/connect", venue="kraken", fields={})
    assert r.status_code == 400 and "One of: backpack, hyperliquid" in r.json()["error"]
    r = await page.post("/api/connect", venue="backpack", fields="api_key")
    assert r.status_code == 400 and "Fill in the form" in r.json()["error"]

    control = Control(quiet_sim)
    try:
        await control.post(
            "fault", {"kind": "http_error", "status": 401, "path": "/api/v1/capital"}
        )
    finally:
        await control.close()
    fields = {"api_key": pair.api_key, "api_secret": pair.api_secret}
    r = await page.post("/api/connect", venue="backpack", fields=fields)
    assert r.status_code == 400 and r.json()["error"].startswith("Backpack refused this key: ")
    assert pair.api_secret not in r.text
    assert (await page.post("/api/connections")).json()["venues"] == {}
    assert page.door.changed == []


async def test_unreachable_venue_is_a_502_and_nothing_is_saved(
    keyed_bot: BotRunner, tmp_path: Path
) -> None:
    keys = DeskKeys(keyed_bot.services.db, KeySource(KEYRING, tmp_path / "unused"))
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    p = await serve(
        keyed_bot, tmp_path, Connector(keys, VenueUrls(closed, closed, closed), seconds=3)
    )
    try:
        pair = new_keypair()
        fields = {"api_key": pair.api_key, "api_secret": pair.api_secret}
        r = await p.post("/api/connect", venue="backpack", fields=fields)
        assert r.status_code == 502
        assert "Could not reach Backpack" in r.json()["error"]
        assert "nothing was saved" in r.json()["error"]
        assert await keys.venues(DESK) == {}
    finally:
        await p.http.aclose()
        await p.server.stop()


async def test_without_secrets_keyring_connecting_is_refused_with_the_reason(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    bot = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys, webapp_port=0))
    await bot.start()
    p = await serve(bot, tmp_path, None)
    try:
        pair = new_keypair()
        fields = {"api_key": pair.api_key, "api_secret": pair.api_secret}
        r = await p.post("/api/connect", venue="backpack", fields=fields)
        assert r.status_code == 503 and r.json()["error"] == NOT_CONFIGURED
        r = await p.post("/api/connections")
        assert r.status_code == 503 and r.json()["error"] == NOT_CONFIGURED
        assert pair.api_key not in p.dump() and "desk_secrets" in p.dump()
    finally:
        await p.http.aclose()
        await p.server.stop()
        await bot.stop()


async def test_without_a_door_there_is_no_connect_page(keyed_bot: BotRunner) -> None:
    doors = DeskDoors(keyed_bot.app.bot_data.factory)
    server = DashboardServer(doors, TOKEN)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/connect?venue=backpack")).status_code == 404
            assert (await http.get("/static/connect.html")).status_code == 404
            assert (await http.post("/api/connect", json={})).status_code in (404, 405)
    finally:
        await server.stop()


async def test_the_bots_own_dashboard_serves_the_form(dash: httpx.AsyncClient) -> None:
    assert (await dash.get("/connect?venue=backpack")).status_code == 200


async def test_hyperliquid_agent_wallet_over_http(
    keyed_bot: BotRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wallet, agent, stranger = Account.create(), Account.create(), Account.create()
    async with HyperliquidSimulator(seed=4, random_walk=False) as hl:
        hl.deposit(wallet.address, 500)
        hl.approve_agent(wallet.address, agent.address, "bot")
        s = keyed_bot.services.settings
        keys = DeskKeys(keyed_bot.services.db, KeySource(KEYRING, tmp_path / "unused"))
        urls = VenueUrls(s.backpack_api_url, s.backpack_ws_url, hl.rest_url)
        p = await serve(keyed_bot, tmp_path, Connector(keys, urls))
        try:
            form = await p.http.get("/connect", params={"venue": "hyperliquid"})
            assert ">Wallet address</label>" in form.text and ">Private key</label>" in form.text
            key = "0x" + bytes(stranger.key).hex()
            r = await p.post(
                "/api/connect",
                venue="hyperliquid",
                fields={"walletAddress": wallet.address, "privateKey": key},
            )
            assert r.status_code == 400 and "approve it at app.hyperliquid.xyz/API" in r.text
            key = "0x" + bytes(agent.key).hex()
            r = await p.post(
                "/api/connect",
                venue="hyperliquid",
                fields={"walletAddress": wallet.address, "privateKey": key},
            )
            assert r.status_code == 200, r.text
            assert r.json() == {
                "connected": "hyperliquid",
                "hint": "…" + wallet.address.lower()[-4:],
            }
            assert p.door.changed == [(DESK, "hyperliquid")]
            dump = p.dump().lower()
            assert key[2:] not in dump and wallet.address.lower() not in dump
            assert key[2:] not in caplog.text.lower()
        finally:
            await p.http.aclose()
            await p.server.stop()
