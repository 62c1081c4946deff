"""One aiohttp server for the embedded Bot API and the chat page (an async context manager)."""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.clock import Clock, SystemClock
from bot.httpserve import start_site
from bot.localchat.botapi import BotApi
from bot.localchat.store import ChatStore
from bot.localchat.web import Banner, ChatPage
from bot.webapp.auth import sign

BOT_ID = 7000001
BOT_NAME = "Backpack bot"
BOT_USERNAME = "backpack_local_bot"
LOCAL_USER_ID = 100000001
#: Bodies anyone can send (the page's API, a wrong token) are refused past this, while read.
MAX_BODY = 1 << 20
#: The bot's own uploads (charts, documents) through the Bot API, with its token: Telegram's cap.
MAX_UPLOAD = 50 * 1024 * 1024


class LocalChatServer:
    """``async with LocalChatServer(token) as server:`` → ``server.url``, ``server.api_url``.

    ``api_url`` is python-telegram-bot's ``base_url`` (``…/bot``); the page is at ``url + "/"``.
    """

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user_id: int = LOCAL_USER_ID,
        user_name: str = "You",
        banner: Banner | None = None,
        password: str | None = None,
        bot_username: str = BOT_USERNAME,
        max_poll_seconds: float = 50.0,
        clock: Clock | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        # With ``state_path`` the chat is durable (history and ids survive a restart).
        self.store = ChatStore(BOT_ID, BOT_NAME, bot_username, state_path)
        self.store.user_names[user_id] = user_name
        self.api = BotApi(self.store, token, max_poll_seconds=max_poll_seconds)
        self.page = ChatPage(
            self.store, user_id, banner or Banner("paper", "built-in simulator"), password
        )
        self._token = token
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._uploads])
        self.api.add_routes(self.app)
        self.page.add_routes(self.app)
        self._user = (user_id, user_name)
        self._clock: Clock = clock or SystemClock()
        self.page.web_app_link = self.web_app_link
        self._runner: web.AppRunner | None = None
        self.url = ""

    def web_app_link(self, url: str) -> str:
        """``url`` with ``initData`` for the page's user signed in, in the fragment, the way
        Telegram opens a Mini App (``#tgWebAppData=…``); signed now, so it is fresh."""
        init_data = sign(*self._user, self._token, int(self._clock.time()))
        base = url.split("#", 1)[0]
        return f"{base}#tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"

    @web.middleware
    async def _uploads(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Only a Bot API call with the right token may send more than ``MAX_BODY``."""
        token = request.match_info.get("token")
        if token is not None and hmac.compare_digest(token.encode(), self._token.encode()):
            request = request.clone(client_max_size=MAX_UPLOAD)
        return await handler(request)

    @property
    def api_url(self) -> str:
        return f"{self.url}/bot"

    async def start(self) -> None:
        self._runner, self.url = await start_site(self.app, self.host, self.port)

    async def stop(self) -> None:
        self.store.close()
        await self.page.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
