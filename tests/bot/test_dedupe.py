"""Each update is handled once, as ``python -m bot`` runs behind a webhook: Telegram redelivers
an update it got no timely ``200`` for, and (issue 22) two web processes may each get one. The
same ``update_id`` posted again — after the first was answered, and twice at the same moment —
gets one answer."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.bot.conftest import ALICE, TOKEN, command_update
from tests.bot.test_webhook import HEADER, _free_port, _listening
from tests.fakes.telegram import FakeTelegram

SECRET = "a-fixed-webhook-secret-for-this-test-0123456789"


async def test_a_redelivered_update_is_answered_once(tg: FakeTelegram, tmp_path: Path) -> None:
    await redeliveries_are_answered_once(tg, tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")


async def redeliveries_are_answered_once(tg: FakeTelegram, tmp_path: Path, database: str) -> None:
    """``python -m bot`` on ``database`` behind its webhook: update 7 posted again after its
    answer, update 8 posted twice at once, update 9 once — three answers."""
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
        "DATABASE_URL": database,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "data" / "bot.log"
    err = (tmp_path / "stderr.txt").open("w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdout=err, stderr=err
    )

    def dropped(update_id: int) -> bool:
        return log.exists() and f"update {update_id} was delivered again" in log.read_text()

    def answers() -> int:
        return sum("Your role" in m.text for m in tg.to(ALICE))

    try:
        await tg.wait_for(lambda: any(m == "setWebhook" for m, _ in tg.calls), timeout=30)
        await tg.wait_for(lambda: _listening(port), timeout=10)
        url, headers = f"http://127.0.0.1:{port}/", {HEADER: SECRET}
        async with httpx.AsyncClient(timeout=10) as http:
            # Redelivered after the first was answered.
            assert (
                await http.post(url, json=command_update(7, "/whoami"), headers=headers)
            ).is_success
            await tg.wait_for(lambda: answers() == 1, timeout=15)
            assert (
                await http.post(url, json=command_update(7, "/whoami"), headers=headers)
            ).is_success
            await _poll(lambda: dropped(7))
            # Two deliveries of one update at the same moment.
            both = await asyncio.gather(
                *(
                    http.post(url, json=command_update(8, "/whoami"), headers=headers)
                    for _ in range(2)
                )
            )
            assert all(r.is_success for r in both)
            await _poll(lambda: answers() >= 2 and dropped(8))
            # A new update still gets its answer, and it comes after everything before it.
            assert (
                await http.post(url, json=command_update(9, "/whoami"), headers=headers)
            ).is_success
            await tg.wait_for(lambda: answers() >= 3, timeout=15)
        assert answers() == 3
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        err.close()


async def _poll(ready: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for ``ready()`` (a line in the log file: no event to wait on), with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)
