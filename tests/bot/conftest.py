"""The bot, whole, against real parts: the simulator over HTTP/WS and the fake Bot API server.

``BotRunner`` starts python-telegram-bot's ``Application`` the way ``run_polling`` does
(initialize → post_init → start_polling → start) and stops it in reverse, so a test can stop
and start the bot again on the same database (a restart).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import build_application, start_polling, stop_polling
from bot.clock import Clock
from bot.container import Services
from bot.keyring.ring import Key
from bot.localchat.entities import detect, parse_html
from bot.services.access import COMMANDS
from bot.settings import Settings
from bot.sim import Simulator
from bot.webapp.auth import sign
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.simproc import SimProcess, start_sim

TOKEN = "123456789:AAE-fake-token-which-must-never-be-logged"
ALICE = 1001
BOB = 1002
MALLORY = 6666


class BotRunner:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.app: Any = None

    @property
    def services(self) -> Services:
        services = self.app.bot_data.services
        assert isinstance(services, Services)
        return services

    async def start(self) -> None:
        self.settings.check()
        app = build_application(self.settings, clock=self.clock)
        await start_polling(app, poll_timeout=1)
        self.app = app

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        await stop_polling(app)


def make_settings(tg: FakeTelegram, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": f"{tg.url}/bot",
        "telegram_allowed_users": [ALICE, BOB],
        "trading_mode": "paper",
        "exchange": "sim",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "data_dir": tmp_path / "data",
        "sim_tick_seconds": 0.05,
        "max_order_notional": "20000",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def false_commands(html: str) -> list[str]:
    """The ``/words`` a chat client would make tappable in ``html`` that are not commands
    (``%/interval``, an echoed ``/foo``): a tap on one sends a command the bot does not have."""
    text, entities = parse_html(html)
    found = detect(text, entities)
    u16 = text.encode("utf-16-le")  # entity offsets count UTF-16 code units
    words = [
        u16[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le") for e in found
    ]
    return [
        w
        for e, w in zip(found, words, strict=True)
        if e["type"] == "bot_command" and w[1:].split("@", 1)[0].lower() not in COMMANDS
    ]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API; at the end, no message the bot sent may hold a ``/word`` that is not
    one of its commands."""
    async with FakeTelegram(TOKEN) as fake:
        yield fake
        wrong = {w: m.text for m in fake.messages for w in false_commands(m.text)}
        assert not wrong, f"/words that are not commands: {wrong}"


def live_settings(
    tg: FakeTelegram, tmp_path: Path, sim: Simulator, keys: KeyPair, **overrides: Any
) -> Settings:
    """Live mode, signing real orders with ``keys`` against the simulator ``sim``."""
    return make_settings(
        tg,
        tmp_path,
        trading_mode="live",
        exchange="backpack",
        backpack_api_key=keys.api_key,
        backpack_api_secret=keys.api_secret,
        backpack_api_url=sim.rest_url,
        backpack_ws_url=sim.ws_url,
        **overrides,
    )


#: The keyring desks' connected keys are sealed under in the tests (SECRETS_KEYRING).
DESK_KEYRING = Key.generate("k1").entry()


def desk_settings(
    tg: FakeTelegram, tmp_path: Path, sim: Simulator, keys: KeyPair, **overrides: Any
) -> Settings:
    """Live mode on ``keys`` (the operator's desk), anyone may open a desk (``SIGNUP=open``), and
    desks may connect their own keys through the dashboard's form."""
    values: dict[str, Any] = {
        "signup": "open",
        "secrets_keyring": DESK_KEYRING,
        "webapp_url": "https://bot.example/",
        "webapp_port": 0,
        **overrides,
    }
    return live_settings(tg, tmp_path, sim, keys, **values)


async def connect(server_url: str, user: int, keys: KeyPair) -> dict[str, Any]:
    """``user`` connects Backpack ``keys`` to their active desk through the key form's API."""
    async with httpx.AsyncClient(base_url=server_url) as http:
        r = await http.post(
            "/api/connect",
            json={
                "initData": sign(user, f"user{user}", TOKEN, int(time.time())),
                "venue": "backpack",
                "fields": {"api_key": keys.api_key, "api_secret": keys.api_secret},
            },
        )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Simulator]:
    """An external simulator whose prices move only when a test moves them."""
    async with Simulator(seed=3, random_walk=False, tick_interval=0.05, publish_interval=0.1) as s:
        yield s


@pytest.fixture
async def live_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    """The bot in live mode, signing real orders against the external quiet simulator."""
    runner = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys))
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def desk_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> AsyncIterator[BotRunner]:
    """The bot live on ``keys`` against the quiet simulator, open to new desks that connect
    their own keys (:func:`desk_settings`)."""
    runner = BotRunner(desk_settings(tg, tmp_path, quiet_sim, keys))
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def open_bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    """The paper bot open to new desks: a stranger's /start opens their own (``SIGNUP=open``)."""
    runner = BotRunner(make_settings(tg, tmp_path, signup="open"))
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def paper_bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    """The bot as ``make run`` starts it with ``EXCHANGE=sim``: paper trading, fully offline."""
    runner = BotRunner(make_settings(tg, tmp_path))
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def sim_control(quiet_sim: Simulator) -> AsyncIterator[Control]:
    c = Control(quiet_sim)
    yield c
    await c.close()


@pytest.fixture
async def venue_a() -> AsyncIterator[SimProcess]:
    """Venue A (Backpack, through our client): a simulator process, hourly funding."""
    p = await start_sim(11)
    yield p
    await p.stop()


@pytest.fixture
async def venue_b() -> AsyncIterator[SimProcess]:
    """Venue B (the hedge, through ccxt's ``backpack`` class): funding every 8 hours."""
    p = await start_sim(12, "--funding-interval", "28800")
    yield p
    await p.stop()


@pytest.fixture
def hedge_keys() -> KeyPair:
    return new_keypair()


@pytest.fixture
async def cross_bot(
    tg: FakeTelegram,
    tmp_path: Path,
    venue_a: SimProcess,
    venue_b: SimProcess,
    keys: KeyPair,
    hedge_keys: KeyPair,
) -> AsyncIterator[BotRunner]:
    """The bot live on two venues: A through ``BackpackAPI``, B through ccxt."""
    runner = BotRunner(
        make_settings(
            tg,
            tmp_path,
            trading_mode="live",
            exchange="backpack",
            backpack_api_key=keys.api_key,
            backpack_api_secret=keys.api_secret,
            backpack_api_url=venue_a.rest_url,
            backpack_ws_url=venue_a.ws_url,
            hedge_exchange="backpack",
            hedge_api_url=venue_b.rest_url,
            hedge_credentials=json.dumps(
                {"apiKey": hedge_keys.api_key, "secret": hedge_keys.api_secret}
            ),
        )
    )
    await runner.start()
    yield runner
    await runner.stop()


def command_update(update_id: int, text: str) -> dict[str, Any]:
    """Alice's command ``text`` as Telegram posts it to a webhook (update and message id alike)."""
    command = text.split(maxsplit=1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }
