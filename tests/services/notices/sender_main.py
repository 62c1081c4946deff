"""One outbox :class:`Sender` as its own OS process, for the tests (and the bench numbers):
``python -m tests.services.notices.sender_main DATABASE_URL BOT_API_URL [IN_FLIGHT]``.

Prints ``ready`` once running; SIGTERM stops it after the messages on their way; SIGKILL is the
test's business.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import SystemClock
from bot.services.notices.senders import Sender
from bot.storage.alerts import NotifySettings
from bot.storage.db import Database
from jobs.outbox import TelegramMarkupCodec, TelegramTransport
from tests.bot.conftest import TOKEN


async def _settings(user_id: int) -> NotifySettings:
    return NotifySettings(user_id, user_id)


async def _noted(_rest: str, _message_id: int) -> None:
    return None


async def main(db_url: str, api_url: str, in_flight: int) -> None:
    db = Database(db_url)
    request = HTTPXRequest(connection_pool_size=in_flight + 2)
    async with Bot(TOKEN, base_url=api_url, request=request) as bot:
        codec, hooks = TelegramMarkupCodec(), {"n": _noted}
        transport = TelegramTransport(bot)
        sender = Sender(db, SystemClock(), transport, _settings, codec, hooks, in_flight=in_flight)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, sender.stop)
        print("ready", flush=True)
        await sender.run()
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 8))
