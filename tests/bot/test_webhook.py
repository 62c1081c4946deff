"""Webhook mode, as ``python -m bot`` runs it: only updates carrying the registered secret count.

Without ``WEBHOOK_SECRET`` the process makes one up, registers it with setWebhook (recorded by
the embedded Bot API), and python-telegram-bot's webhook server refuses every POST without it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from tests.bot.conftest import ALICE, TOKEN, command_update
from tests.fakes.telegram import FakeTelegram

HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_forged_webhook_posts_are_refused_and_the_real_one_is_handled(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    env = {
        **clean,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": f"{tg.url}/bot",
        "TELEGRAM_ALLOWED_USERS": str(ALICE),
        "EXCHANGE": "sim",
        "TRADING_MODE": "paper",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": "",
        "LOG_LEVEL": "DEBUG",  # the secret must not show even where every request is logged
    }
    err = (tmp_path / "stderr.txt").open("w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdout=err, stderr=err
    )
    try:
        registered = await tg.wait_for(
            lambda: next((p for m, p in tg.calls if m == "setWebhook"), None), timeout=30
        )
        secret = str(registered["secret_token"])
        assert len(secret) >= 32
        url = f"http://127.0.0.1:{port}/"
        async with httpx.AsyncClient(timeout=10) as http:
            await tg.wait_for(lambda: _listening(port), timeout=10)
            forged = await http.post(url, json=command_update(1, "/buy BTC 0.01"))
            assert forged.status_code == 403
            wrong = await http.post(
                url, json=command_update(2, "/buy BTC 0.01"), headers={HEADER: secret[:-1] + "x"}
            )
            assert wrong.status_code == 403
            real = await http.post(url, json=command_update(3, "/whoami"), headers={HEADER: secret})
            assert real.status_code == 200
        reply = await tg.next_message(ALICE, "Your role", timeout=10)
        assert "owner" in reply.text
        assert [m.text for m in tg.to(ALICE)] == [reply.text]  # the forged /buy: no preview
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        err.close()
    # the console (warnings) and the log file in DATA_DIR (everything at LOG_LEVEL)
    log = (tmp_path / "stderr.txt").read_text() + (tmp_path / "data" / "bot.log").read_text()
    assert "setWebhook" in log  # the request was logged, with the secret blanked
    assert secret not in log
    assert TOKEN.split(":")[1] not in log


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
