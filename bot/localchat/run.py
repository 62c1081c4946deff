"""``python -m bot`` without a Telegram token: the bot in a local web chat, in one process.

Starts the embedded Bot API + chat page (:class:`LocalChatServer`), builds the very same
python-telegram-bot ``Application`` with :func:`bot.app.build_application` pointed at it
through ``base_url`` (a random local token, the page's user as the only allowed user), runs it
as ``run_polling`` would (initialize → post_init → start_polling → start), prints
``local chat: http://HOST:PORT/`` and stops in reverse order on SIGINT/SIGTERM.

With ``TRADING_MODE=live`` and no ``LOCAL_CHAT_PASSWORD`` the page still needs one — any
local process or user could otherwise trade real money through it: a random key is made at each
start and printed once, in that line's URL (``http://HOST:PORT/?key=…``); opening it signs in.

Market data: the real exchange when it answers, otherwise the built-in simulator; the page's
banner says which. Trading is paper unless ``TRADING_MODE=live`` was set.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.app import build_application, install_secret_redaction, start_polling, stop_polling
from bot.keyring.ring import KeyringError
from bot.localchat.server import BOT_ID, LOCAL_USER_ID, LocalChatServer
from bot.localchat.web import Banner
from bot.settings import ConfigError, Settings
from bot.storage.db import InstanceLocked

log = logging.getLogger("bot.localchat")

PROBE_SECONDS = 3.0
#: The chat's history, files and ids, beside the bot's database (``bot.localchat.durable``).
CHAT_FILE = "localchat.db"


class PortUnavailable(OSError):
    """The page's address cannot be bound (in use, or not an address of this machine)."""


async def exchange_reachable(api_url: str, seconds: float = PROBE_SECONDS) -> bool:
    """Whether the exchange's public REST API answers ``/api/v1/markets`` with 200 in time."""
    try:
        client_timeout = aiohttp.ClientTimeout(total=seconds)
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.get(f"{api_url.rstrip('/')}/api/v1/markets") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


async def choose_market(settings: Settings) -> tuple[Settings, Banner]:
    """Pick the market data source and say it in a banner; raises ConfigError for live+offline."""
    mode = settings.trading_mode
    if settings.exchange == "sim":
        return settings, Banner(mode, "built-in simulator", "EXCHANGE=sim")
    if await exchange_reachable(settings.backpack_api_url):
        detail = "real prices; paper orders fill in the built-in engine" if settings.paper else ""
        return settings, Banner(mode, "Backpack Exchange", detail)
    if not settings.paper:
        raise ConfigError(
            f"TRADING_MODE=live needs the exchange, and {settings.backpack_api_url} is not "
            "reachable; use TRADING_MODE=paper to try the bot offline."
        )
    log.warning("Backpack Exchange is not reachable; the local chat uses the built-in simulator")
    offline = settings.model_copy(update={"exchange": "sim"})
    return offline, Banner(mode, "built-in simulator", "Backpack Exchange is not reachable")


def local_settings(
    settings: Settings, server: LocalChatServer, token: str, user_id: int
) -> Settings:
    """``settings`` pointed at the embedded Bot API, with the page's user as the owner."""
    return settings.with_users(
        {user_id: "owner"},
        telegram_bot_token=SecretStr(token),
        telegram_api_url=server.api_url,
        webhook_url=None,
        local_chat=True,
    )


def announce(url: str) -> None:
    """The one line ``python -m bot`` prints on stdout in local-chat mode."""
    print(f"local chat: {url}", flush=True)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[str], None] = announce,
    on_app: Callable[[Any], None] | None = None,
) -> None:
    """Run the local chat until ``stop`` is set; ``on_ready(page_url)`` once the bot answers.

    ``on_app(application)`` is called once it is built (tests reach the paper simulator
    through it to move a price)."""
    settings.check()
    market_settings, banner = await choose_market(settings)
    user_id = settings.telegram_allowed_users[0] if settings.telegram_allowed_users else None
    secret = settings.local_chat_password
    password = secret.get_secret_value() if secret is not None else None
    key = None
    if password is None and not settings.paper:
        key = password = secrets.token_urlsafe(24)
    if password is not None:
        install_secret_redaction(password, "<local-chat-password>")
    # A fresh token per run: nobody else on the network can act as the bot or read updates.
    token = f"{BOT_ID}:{secrets.token_urlsafe(24)}"
    user_id = user_id or LOCAL_USER_ID
    server = LocalChatServer(
        token,
        host=settings.local_chat_host,
        port=settings.local_chat_port,
        user_id=user_id,
        banner=banner,
        password=password,
        state_path=settings.data_dir / CHAT_FILE,
    )
    try:
        await server.start()
    except OSError as exc:
        server.store.close()
        raise PortUnavailable(exc.errno, exc.strerror or str(exc)) from exc
    try:
        app = build_application(local_settings(market_settings, server, token, user_id))
        if on_app is not None:
            on_app(app)
        page = f"{server.url}/" + (f"?key={key}" if key is not None else "")
        await _run(app, stop, lambda: on_ready(page))
    finally:
        await server.stop()


async def _run(app: Any, stop: asyncio.Event, ready: Callable[[], None]) -> None:
    await start_polling(app)
    try:
        ready()
        await stop.wait()
    finally:
        await stop_polling(app)


def run_local_chat(settings: Settings) -> int:
    """The blocking entry point ``bot/__main__.py`` calls; returns the process exit code."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except InstanceLocked as exc:
        print(f"Not starting: {exc}", file=sys.stderr)
        return 3
    except KeyringError as exc:  # a stored secret's key is missing, or none can be made
        print(f"Not starting: {exc}", file=sys.stderr)
        return 2
    except PortUnavailable as exc:
        print(
            f"Cannot open the local chat on {settings.local_chat_host}:"
            f"{settings.local_chat_port} ({exc.strerror or exc}). Set LOCAL_CHAT_PORT to a free "
            "port (0 picks one).",
            file=sys.stderr,
        )
        return 2
    return 0
